"""The ``cloudinspect`` console command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from server.config import Settings
from server.devsecrets import with_dev_secrets


def _settings() -> Settings:
    settings = with_dev_secrets(Settings())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings


def cmd_migrate(_: argparse.Namespace) -> int:
    from server.migrate import upgrade

    settings = _settings()
    asyncio.run(upgrade(settings.effective_database_url))
    print("数据库已迁移到最新版本 / database migrated to head")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from server.devtools.demo import create_demo

    settings = _settings()
    print(asyncio.run(create_demo(settings, only_if_empty=args.if_empty)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app
    from server.devtools.demo import create_demo
    from server.migrate import upgrade

    settings = _settings()
    asyncio.run(upgrade(settings.effective_database_url))
    print(asyncio.run(create_demo(settings, only_if_empty=True)))
    base = settings.effective_base_url
    print(
        "\n云踏勘已启动 / Cloud inspection is starting:\n"
        f"  工作台 Staff console:     {base}/console/\n"
        f"  接口文档 API docs:        {base}/api/docs\n"
        f"  健康检查 Health:          {base}/healthz\n"
        f"  运行详情 Details (admin): {base}/api/v1/ops/health\n"
        "  按 Ctrl+C 停止 / press Ctrl+C to stop\n",
        flush=True,
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def cmd_audit_verify(_: argparse.Namespace) -> int:
    from server.audit.cli import verify

    return asyncio.run(verify(_settings()))


def cmd_catalog_validate(args: argparse.Namespace) -> int:
    from checklists.cli import validate_command

    return validate_command(args.path)


def cmd_verify_opinion(args: argparse.Namespace) -> int:
    from server.opinions.cli import verify_opinion_command

    return verify_opinion_command(
        args.pdf,
        expected_hash=args.expected_hash,
        trust_paths=args.trust,
        data_dir=Settings().data_dir,
        bundle_path=args.bundle,
        qr_text=args.qr,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cloudinspect", description="云踏勘 Cloud inspection")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="migrate, create demo data if empty, serve").set_defaults(
        func=cmd_run
    )
    sub.add_parser("migrate", help="migrate the database to head").set_defaults(func=cmd_migrate)
    demo = sub.add_parser("demo", help="create demo staff accounts and print their logins")
    demo.add_argument("--if-empty", action="store_true", help="only when there is no staff")
    demo.set_defaults(func=cmd_demo)
    audit = sub.add_parser("audit", help="audit log tools").add_subparsers(
        dest="audit_command", required=True
    )
    audit.add_parser("verify", help="walk the hash chain").set_defaults(func=cmd_audit_verify)
    catalog = sub.add_parser("catalog", help="checklist catalogue tools").add_subparsers(
        dest="catalog_command", required=True
    )
    validate = catalog.add_parser("validate", help="validate catalogue files")
    validate.add_argument("path", nargs="?", type=Path, default=None)
    validate.set_defaults(func=cmd_catalog_validate)
    verify = sub.add_parser(
        "verify-opinion",
        help="check an opinion PDF's signature, content hash and evidence root, or an evidence "
        "bundle object by object (offline)",
    )
    verify.add_argument("pdf", type=Path, nargs="?", default=None)
    verify.add_argument("--bundle", type=Path, default=None, help="an evidence bundle (zip)")
    verify.add_argument("--qr", default=None, help="the text of the QR code, as scanned")
    verify.add_argument("--expected-hash", default=None, help="the content hash on record")
    verify.add_argument(
        "--trust", type=Path, action="append", default=[], help="trusted root certificate (PEM)"
    )
    verify.set_defaults(func=cmd_verify_opinion)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
