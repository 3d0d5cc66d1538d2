"""The `grants` command: development tokens, the local stack, the demo journey, the AsyncAPI document."""

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

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
