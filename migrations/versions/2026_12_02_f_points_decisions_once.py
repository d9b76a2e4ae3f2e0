"""points decisions once (placeholder: filled by the change that needs it, or removed)

Revision ID: c1a0ac7e0006
Revises: c1a0ac7e0005
Create Date: 2026-12-02 12:00:00+00:00
"""

from collections.abc import Sequence

revision: str = "c1a0ac7e0006"
down_revision: str | None = "c1a0ac7e0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
