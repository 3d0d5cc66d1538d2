"""The people of the demo programme, for the development "sign in as" page.

They match the demo programme `make run` loads (grants_shared.dev.journey): its manager and its
panel of experts by experience, plus a finance officer, an administrator and two applicant groups.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Persona:
    subject: str
    name: str
    does: str
    roles: tuple[str, ...]
    organisations: tuple[str, ...] = field(default_factory=tuple)

    @property
    def email(self) -> str:
        return f"{self.subject}@example.org"


PERSONAS = (
    Persona("maya-manager", "Maya Patel", "Programme manager", ("programme_manager",)),
    Persona("reviewer-amara", "Amara Nwosu", "Panel member, expert by experience", ("reviewer",)),
    Persona("reviewer-ben", "Ben Carter", "Panel member, expert by experience", ("reviewer",)),
    Persona("reviewer-chen", "Chen Wei", "Panel member, expert by experience", ("reviewer",)),
    Persona("sam-harrow", "Sam Okafor", "Applies for Harrow Men's Shed", ("applicant",), ("org-harrow-mens-shed",)),
    Persona("priya-brent", "Priya Shah", "Applies for Brent Young Minds", ("applicant",), ("org-brent-young-minds",)),
    Persona("femi-finance", "Femi Adeyemi", "Finance officer", ("finance_officer",)),
    Persona("ade-admin", "Ade Okoro", "Platform administrator", ("admin",)),
)

BY_SUBJECT = {persona.subject: persona for persona in PERSONAS}
