"""A domain module as the platform sees it: one manifest (`<package>/module.py`, `MODULE`)
declaring everything the module adds to the platform, and the two steps that load it.

- `activate(module)` registers what every process needs, web worker or job worker: the
  module's permissions and roles, the purposes it asks consent for, what it takes payments
  for (with the handlers a payment calls back), the topics it publishes
  (listed to webhook integrators), the events it subscribes to and its jobs (periodic ones
  with their interval).
- `install(app, module)` adds what only the web app needs: the routers, the templates and
  template functions, and the module's entry on the home page.

Both are idempotent (tests build many apps in one process). Nothing registers itself on import
in a domain: what a module does to the platform is read in one file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI
from sqlalchemy.orm import Session

from gongchuang.core import events, jobs, payments
from gongchuang.core.people import register_consent_purpose
from gongchuang.core.permissions import (
    Access,
    register_kinds,
    register_local_only,
    register_permissions,
    register_role,
    register_self_service,
)
from gongchuang.core.web import (
    ModuleEntry,
    PersonalBlock,
    register_module,
    register_template_global,
)

E = TypeVar("E", bound=events.Event)


@dataclass(frozen=True)
class Subscription:
    event: type[events.Event]
    handler: Callable[[Session, Any], None]


def on(event: type[E], handler: Callable[[Session, E], None]) -> Subscription:
    """A subscription whose handler is checked against the event's type."""
    return Subscription(event, handler)


@dataclass(frozen=True)
class JobSpec:
    kind: str
    handler: jobs.Handler
    lease_seconds: int = 60
    every_seconds: int | None = None  # scheduled on this interval by the workers


@dataclass(frozen=True)
class Module:
    code: str
    title: str  # message ids, said in the reader's language where shown
    summary: str
    href: str
    access: Access
    models: str  # the module holding its tables (Alembic reads every module's)
    publishes: tuple[type[events.Event], ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    jobs: tuple[JobSpec, ...] = ()
    # Modules holding a `router` (API first, then pages), imported by the web app only.
    routers: tuple[str, ...] = ()
    templates: Path | None = None
    template_globals: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    # Purposes the module asks a person's consent for (PIPL): code -> message id.
    consent_purposes: Mapping[str, str] = field(default_factory=dict)
    # What the module takes payments for: purpose -> the handlers the payment calls back.
    payment_purposes: Mapping[str, payments.PurposeHandlers] = field(default_factory=dict)
    personal_block: PersonalBlock | None = None
    # What cannot wait for a menu: a block atop the home page, a link in every header.
    home_block: str | None = None
    header_link: tuple[str, str] | None = None


def activate(module: Module) -> None:
    access = module.access
    register_permissions(access.permissions)
    register_local_only(*access.local_only)
    register_self_service(*access.self_service)
    for permission, kinds in access.kinds.items():
        register_kinds(permission, *kinds)
    for role in access.roles:
        register_role(role.code, role.label, role.permissions)
    for code, label in module.consent_purposes.items():
        register_consent_purpose(code, label)
    for purpose, handlers in module.payment_purposes.items():
        payments.register_purpose(purpose, handlers)
    for topic in module.publishes:
        events.register_topic(topic)
    for subscription in module.subscriptions:
        events.subscribe(subscription.event, subscription.handler)
    for job in module.jobs:
        jobs.register_handler(job.kind, job.handler, job.lease_seconds)
        if job.every_seconds is not None:
            jobs.register_periodic(job.kind, job.every_seconds)


def install(app: FastAPI, module: Module) -> None:
    for name in module.routers:
        app.include_router(importlib.import_module(name).router)
    for name, function in module.template_globals.items():
        register_template_global(name, function)
    register_module(
        ModuleEntry(
            code=module.code,
            title=module.title,
            summary=module.summary,
            href=module.href,
            home_block=module.home_block,
            header_link=module.header_link,
            personal_block=module.personal_block,
        ),
        module.templates,
    )
