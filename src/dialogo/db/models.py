"""Every domain's tables, imported so that ``Base.metadata`` is complete (Alembic, tests)."""

from dialogo.accounts import models as accounts_models
from dialogo.channels import models as channels_models
from dialogo.core.db import Base
from dialogo.jobs import models as jobs_models
from dialogo.notifications import models as notifications_models
from dialogo.publishing import models as publishing_models

__all__ = [
    "Base",
    "accounts_models",
    "channels_models",
    "jobs_models",
    "notifications_models",
    "publishing_models",
]
