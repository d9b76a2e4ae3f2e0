"""The platform core: regions, organisations, people, permissions, audit, events, jobs, files,
notifications, i18n and the web shell. It knows no domain module."""
