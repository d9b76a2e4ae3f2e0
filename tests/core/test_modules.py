"""The module boundary (core/modules.py): a domain adds itself to the platform through its
manifest only, and the events between domains are typed both ends."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
import typing
from pathlib import Path

import gongchuang.topics
from gongchuang.core import events, jobs, people, permissions
from gongchuang.core.events import Event
from gongchuang.models_registry import model_modules
from gongchuang.modules import DOMAIN_MODULES, load_modules, manifests

SRC = Path(__file__).resolve().parents[2] / "src" / "gongchuang"
REGISTERING = {
    "register_permissions",
    "register_local_only",
    "register_self_service",
    "register_kinds",
    "register_role",
    "register_topic",
    "register_periodic",
    "register_handler",
    "register_consent_purpose",
    "register_module",
    "register_template_global",
    "job_handler",
    "subscribe",
    "subscribe_all",
}


def _event_types() -> list[type[Event]]:
    found = []
    for info in pkgutil.iter_modules(gongchuang.topics.__path__, "gongchuang.topics."):
        module = importlib.import_module(info.name)
        found += [
            value
            for value in vars(module).values()
            if inspect.isclass(value) and issubclass(value, Event) and value is not Event
        ]
    return found


def test_no_domain_registers_anything_on_import() -> None:
    """Module-level calls that register with the platform belong in the manifest: a domain
    file read alone does nothing to the platform (decorators included)."""
    offenders = []
    for name in DOMAIN_MODULES:
        package = SRC / name.split(".")[-1]
        for path in package.rglob("*.py"):
            if path.name == "module.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                calls = [node.value] if isinstance(node, ast.Expr) else []
                if isinstance(node, ast.FunctionDef | ast.ClassDef):
                    calls = list(node.decorator_list)
                for call in calls:
                    target = call.func if isinstance(call, ast.Call) else call
                    called = getattr(target, "attr", getattr(target, "id", ""))
                    if called in REGISTERING:
                        offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {called}")
    assert not offenders, offenders


def test_importing_every_domain_without_its_manifest_registers_nothing() -> None:
    """Checked in a fresh interpreter: the services, pages and API of every domain imported,
    no manifest activated, and the platform knows none of their roles, topics or jobs."""
    imports = "; ".join(
        f"import {name}.{part}" for name in DOMAIN_MODULES for part in ("service", "api", "pages")
    )
    script = (
        f"{imports}\n"
        "from gongchuang.core import events, jobs, permissions\n"
        "print(sorted(t for t in events.TOPICS if not t.startswith('credential.')))\n"
        "print(sorted(k for k in jobs._registry if k.split('.')[0] in "
        f"{[n.split('.')[-1] for n in DOMAIN_MODULES]!r}))\n"
        "print(sorted(p for p in permissions.KNOWN_PERMISSIONS if '.' in p and "
        f"p.split('.')[0] in {[n.split('.')[-1] for n in DOMAIN_MODULES]!r}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.split("\n")[:3] == ["[]", "[]", "[]"], out


def test_every_manifest_is_activated_whole() -> None:
    load_modules()
    codes = [module.code for module in manifests()]
    assert codes == [name.split(".")[-1] for name in DOMAIN_MODULES]
    for module in manifests():
        assert {p.value for p in module.access.permissions} <= permissions.KNOWN_PERMISSIONS
        for role in module.access.roles:
            assert role.permissions <= permissions.ROLES[role.code].permissions
        for topic in module.publishes:
            assert events.TOPICS[topic.topic] == topic.label
            assert topic.topic.split(".")[0] == module.code
        for subscription in module.subscriptions:
            handlers = events._subscribers[subscription.event.topic]
            assert any(getattr(h, "handles", None) is subscription.handler for h in handlers)
        for job in module.jobs:
            assert jobs._registry[job.kind].handler is job.handler
            assert job.kind.split(".")[0] == module.code
            if job.every_seconds:
                assert jobs.PERIODIC[job.kind] == job.every_seconds
        assert set(module.consent_purposes) <= set(people.CONSENT_PURPOSES)
    assert model_modules() == [
        "gongchuang.core.models",
        *(f"{name}.models" for name in DOMAIN_MODULES),
    ]


def test_each_event_type_is_published_by_one_module_and_read_back_typed() -> None:
    published = [topic for module in manifests() for topic in module.publishes]
    types = _event_types()
    assert sorted(t.topic for t in published) == sorted(t.topic for t in types)
    assert len(set(published)) == len(published)
    for event_type in types:
        # Every field typed (no Any), so that a subscriber's use of it is checked.
        hints = typing.get_type_hints(event_type)
        fields = {name: hints[name] for name in event_type.model_fields}
        assert fields and typing.Any not in fields.values(), event_type
        assert event_type.label and event_type.topic


def test_a_subscription_receives_the_parsed_event() -> None:
    seen: list[Event] = []

    class Ping(Event):
        topic = "test.ping"
        label = "ping"

        count: int

    def handler(session: object, event: Ping) -> None:
        seen.append(event)

    events.subscribe(Ping, handler)
    events.subscribe(Ping, handler)  # a module loaded twice subscribes once
    assert len(events._subscribers["test.ping"]) == 1

    class Message:
        payload = Ping(count=3).model_dump(mode="json")

    events._subscribers["test.ping"][0](None, Message())  # type: ignore[arg-type]
    assert seen == [Ping(count=3)]
    del events._subscribers["test.ping"]
