"""Default backends for `exgate demo`: pymap (IMAP), Radicale (CalDAV/CardDAV,
child process), aiosmtpd (SMTP), plus the demo users and their seed data."""
from .seed import SeedPlan, build_plan, seed, seeded_plan
from .stack import EmbeddedStack
from .users import DemoUser, load_demo_users

__all__ = ["DemoUser", "EmbeddedStack", "SeedPlan", "build_plan", "load_demo_users",
           "seed", "seeded_plan"]
