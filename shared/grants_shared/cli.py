"""The `grants` command: development tokens, the local stack, the demo journey, the AsyncAPI document,
and the dead-letter queues."""

import argparse
import sys

from grants_shared.auth import Role, mint_token
from grants_shared.settings import ServiceSettings


def _token(args: argparse.Namespace) -> int:
    print(
        mint_token(
            ServiceSettings(),
            subject=args.subject,
            roles=args.role,
            organisation_ids=args.organisation,
            name=args.name,
            email=args.email,
        )
    )
    return 0


def _new_key(args: argparse.Namespace) -> int:
    from cryptography.fernet import Fernet

    print(Fernet.generate_key().decode())
    return 0


def _asyncapi(args: argparse.Namespace) -> int:
    from grants_shared.asyncapi import render

    text = render()
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w") as f:
            f.write(text)
    return 0


def _run(args: argparse.Namespace) -> int:
    from grants_shared.dev.run import main as run_main

    return run_main()


def _demo(args: argparse.Namespace) -> int:
    from grants_shared.dev.demo import main as demo_main

    return demo_main()


def _dlq(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from grants_shared.dead_letters import DeadLetterQueue

    queue = DeadLetterQueue(ServiceSettings(), args.service)
    chosen = set(args.event_id) if getattr(args, "event_id", None) else None
    if args.action in ("replay", "purge") and chosen is None and not args.all:
        print(f"name the events to {args.action}, or --all", file=sys.stderr)
        return 2
    if args.action == "list":
        letters = asyncio.run(queue.list())
        for letter in letters:
            print(f"{letter.event_id}  {letter.type}  {letter.dead_lettered_at}  {letter.reason}")
        print(f"{len(letters)} in {queue.name}")
    elif args.action == "show":
        found = [letter for letter in asyncio.run(queue.list()) if letter.event_id in (chosen or set())]
        for letter in found:
            print(json.dumps({"id": letter.event_id, "type": letter.type, "reason": letter.reason,
                              "dead_lettered_at": letter.dead_lettered_at, "routing_key": letter.routing_key,
                              "data": letter.data(full=args.full)}, indent=2, default=str))  # fmt: skip
        if not found:
            print("no such event in the dead-letter queue", file=sys.stderr)
            return 1
    elif args.action == "replay":
        print(f"replayed {asyncio.run(queue.replay(chosen))} onto {ServiceSettings().queue(args.service)}")
    else:
        print(f"purged {asyncio.run(queue.purge(chosen))} from {queue.name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="grants", description=__doc__)
    commands = parser.add_subparsers(required=True)

    token = commands.add_parser("token", help="mint a development bearer token (signed with GRANTS_JWT_SECRET)")
    token.add_argument("--subject", "--sub", required=True, help="the person's id")
    token.add_argument("--role", action="append", required=True, choices=[r.value for r in Role])
    token.add_argument("--organisation", "--org", action="append", default=[], help="an organisation the applicant acts for")
    token.add_argument("--name")
    token.add_argument("--email")
    token.set_defaults(func=_token)

    new_key = commands.add_parser(
        "new-key", help="make a new encryption key (GRANTS_BANK_DETAILS_KEY, GRANTS_WEBHOOK_SECRETS_KEY: one each)"
    )
    new_key.set_defaults(func=_new_key)

    asyncapi = commands.add_parser("asyncapi", help="write the AsyncAPI 3.0 document of the event catalogue")
    asyncapi.add_argument("--output", "-o", default="docs/asyncapi.yaml")
    asyncapi.set_defaults(func=_asyncapi)

    run = commands.add_parser("run", help="run the four services with local infrastructure (make run)")
    run.set_defaults(func=_run)

    demo = commands.add_parser("demo", help="drive one grant journey through a running stack (make demo)")
    demo.set_defaults(func=_demo)

    dlq = commands.add_parser("dlq", help="list, show, replay or purge a service's dead-letter queue")
    actions = dlq.add_subparsers(dest="action", required=True)
    for action, text in (("list", "each dead letter's id, type, time and reason"),
                         ("show", "one dead letter, its data without personal fields unless --full"),
                         ("replay", "back onto the service's queue, keeping the event id"),
                         ("purge", "drop them")):  # fmt: skip
        command = actions.add_parser(action, help=text)
        command.add_argument("--service", required=True, help="applications, scoring, disbursement or notifications")
        if action != "list":
            command.add_argument("event_id", nargs="*" if action != "show" else "+", help="event ids")
        if action in ("replay", "purge"):
            command.add_argument("--all", action="store_true", help="every message in the queue")
        if action == "show":
            command.add_argument("--full", action="store_true", help="include the personal data")
        command.set_defaults(func=_dlq)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
