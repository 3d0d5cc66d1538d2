"""A local SMTP sink for `make run`: accepts every message, keeps it as a .eml file and prints a line."""

from email import message_from_bytes
from email.policy import default
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session, SMTP


class MailFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        path = self.folder / f"{self.count:05d}.eml"
        path.write_bytes(content)
        subject = message_from_bytes(content, policy=default)["Subject"]
        print(f"[smtp-sink] mail to {', '.join(envelope.rcpt_tos)}: {subject} ({path})", flush=True)
        return "250 Message accepted"


def start_sink(folder: Path, port: int = 1025) -> Controller:
    controller = Controller(MailFolder(folder), hostname="127.0.0.1", port=port)
    controller.start()
    return controller
