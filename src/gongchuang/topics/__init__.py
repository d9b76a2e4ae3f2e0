"""The events domains publish, as typed payloads: one module per publishing domain.

This package is the only place two domains meet. A publisher imports its own module here to
publish; a subscriber imports the publisher's module here to subscribe, never the publisher's
package, so it runs whether or not the publisher is installed. Modules here import nothing but
`gongchuang.core.events` and `gongchuang.core.i18n` (an import-linter contract keeps the
domains and the web shell out).

A payload carries `organisation_id` when integrators of that organisation may receive it by
webhook (the fan-out in `core.webhooks` routes by it).
"""
