"""Demo data for a fresh install: staff accounts whose logins are printed once and kept
in ``data_dir/demo-logins.txt`` (mode 0600)."""

from __future__ import annotations

import os
import secrets

from sqlalchemy import func, select

from checklists.loader import load_catalogue
from server.assignment.models import InspectorProfile
from server.audit.service import Actor, append
from server.auth.models import Role, Staff
from server.auth.passwords import hash_password
from server.config import Settings
from server.db import make_engine
from server.sessions import app_sessionmaker
from server.sla.policy import policy_from_settings

DEMO_STAFF = [
    ("admin", "系统管理员", Role.admin, "行政审批局"),
    ("dispatcher", "调度员 周敏", Role.dispatcher, "行政审批局"),
    ("inspector1", "踏勘员 王磊", Role.inspector, "行政审批局 踏勘一组"),
    ("inspector2", "踏勘员 李娜", Role.inspector, "市场监管局 踏勘二组"),
    ("inspector3", "踏勘员 陈刚", Role.inspector, "行政审批局 踏勘一组"),
    ("inspector4", "踏勘员 赵丽", Role.inspector, "农业农村局"),
    ("reviewer", "审核员 孙洁", Role.reviewer, "行政审批局"),
    ("window", "窗口人员 刘洋", Role.window, "政务服务中心"),
    ("head", "科室负责人 吴强", Role.head, "行政审批局"),
]


async def create_demo(settings: Settings, *, only_if_empty: bool) -> str:
    logins_file = settings.data_dir / "demo-logins.txt"
    engine = make_engine(settings.effective_database_url)
    try:
        sessions = app_sessionmaker(engine, policy_from_settings(settings))
        async with sessions() as session:
            if only_if_empty and await session.scalar(select(func.count(Staff.id))):
                if logins_file.exists():
                    return f"演示账号 / demo logins: {logins_file}\n" + logins_file.read_text()
                return "已有账号，未创建演示数据 / staff exist; no demo data created"
            lines = []
            matters = sorted(m.code for m in load_catalogue(settings.catalogue_dir).matters)
            for username, name, role, org in DEMO_STAFF:
                password = secrets.token_urlsafe(9)
                staff = Staff(
                    username=username,
                    display_name=name,
                    role=role,
                    organisation=org,
                    password_hash=await hash_password(password),
                )
                session.add(staff)
                if role is Role.inspector:  # qualified for every matter, so draws succeed
                    await session.flush()
                    session.add(InspectorProfile(staff_id=staff.id, matters=matters))
                lines.append(f"  {role.value:<10} {username:<12} {password}")
            await append(session, Actor.system("demo"), "demo.created", detail={})
            await session.commit()
    finally:
        await engine.dispose()
    text = "\n".join(lines) + "\n"
    fd = os.open(logins_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    header = "演示账号（角色 用户名 密码）/ demo logins (role username password)"
    return f"{header}, in {logins_file}:\n{text}"
