"""The platform core: regions, organisations, people, permissions, audit, events, jobs, files,
notifications, i18n and the web shell. It knows no domain module.

It comes in three layers; a module imports only from its own layer or the ones below it
(`lint-imports` checks it: the core contract in pyproject.toml, and a forbidden contract that
keeps FastAPI, Starlette and the shell out of every business rule).

Web shell (HTTP: routers, requests, responses):
- api: the core's REST API under /api/v1.
- pages: the core's HTML pages (log-in, organisations, profile, notifications, audit).
- payment_routes: payments' HTTP side: providers' notifications, the sandbox cashier.
- web: the shell's plumbing: request-scoped session and principal, CSRF, templates, errors.
- middleware: pure ASGI middleware: locale, security headers, metrics, over-large bodies.
- routing: routers filed by path prefix so that matching does not grow with the module count.
- ops: JSON logs, health and readiness probes, Prometheus metrics.
- modules: a domain module's manifest and the steps that activate and install it in the app.

Platform services (the rules every domain shares; no request in sight):
- audit: the append-only, hash-chained audit ledger.
- auth: logging in, sessions, CSRF tokens and API tokens.
- credentials: the registry of certificates people hold, issued by organisations.
- events: domain events through a transactional outbox.
- files: uploads: limits, type sniffing, EXIF stripping, storage.
- forms: HTML forms read into the API's command models (blanks, yuan, problems by field).
- geo: coordinates (WGS-84 and GCJ-02), distances, map-app links.
- identity: Chinese phone and resident-ID numbers: validation and masking.
- jobs: durable scheduled jobs.
- live: live updates for Server-Sent Events across every process.
- notifications: the in-app inbox, live delivery and outside channels (SMS ...).
- organisations: organisations, memberships and roles.
- pagination: cursor pagination (keyset on the id).
- passwords: password hashing with argon2id.
- payments: payments for every domain's purposes: providers (sandbox, WeChat Pay), refunds.
- pdf: a font that writes Chinese, QR codes, the certificate page.
- people: registration, profile, consents and what others may see.
- permissions: permissions, roles and the principal acting.
- push: Web Push subscriptions and sending.
- regions: administrative regions: lookup, browsing, imports.
- schemas: the core's input and output shapes (its REST API's, and the id field domains share).
- spreadsheets: reading .xlsx and .csv with Chinese or English headers; writing workbooks.
- stats: platform-wide figures for the home page.
- text: checks on free text people type.
- throttle: slowing down password guessing without locking anyone out.
- topics: the core's own events, for modules to subscribe to.
- webhooks: signed outgoing webhooks, retried, every attempt recorded.
- workdays: China's working calendar (public holidays and make-up working days).

Infrastructure (what everything stands on):
- clock: the one clock and calendar (UTC stored, China's local day counted).
- db: engine, sessions and the declarative base.
- errors: the domain errors, each with its HTTP status and translatable message.
- i18n: translations through Babel.
- limits: how much a request may send (read by the settings and by routes).
- models: the core's tables.
- money: yuan as people type and read it, fen everywhere else.
"""
