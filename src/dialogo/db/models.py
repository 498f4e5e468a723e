"""Every domain's tables, imported so that ``Base.metadata`` is complete (Alembic, tests)."""

from dialogo.accounts import models as accounts_models
from dialogo.analytics import models as analytics_models  # noqa: F401
from dialogo.analytics import schedule_models as analytics_schedule_models  # noqa: F401
from dialogo.audience import models as audience_models  # noqa: F401
from dialogo.channels import models as channels_models
from dialogo.core.db import Base
from dialogo.inbox import models as inbox_models  # noqa: F401
from dialogo.influence import models as influence_models  # noqa: F401
from dialogo.jobs import models as jobs_models
from dialogo.listening import models as listening_models  # noqa: F401
from dialogo.notifications import models as notifications_models
from dialogo.publishing import calendar as publishing_calendar  # noqa: F401 (feed table)
from dialogo.publishing import models as publishing_models

__all__ = [
    "Base",
    "accounts_models",
    "channels_models",
    "jobs_models",
    "notifications_models",
    "publishing_models",
]
