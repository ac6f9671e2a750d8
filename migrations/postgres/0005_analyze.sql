-- Gives the planner statistics now rather than at the next autoanalyze, which may be long after
-- an upgrade or a bulk import (issue #8). A migration that rewrites or loads many rows ends the
-- same way. Tables are named so only this schema's are analyzed.
ANALYZE workspaces, access_keys, numbers, billing_periods, jobs, assistants, campaigns, campaign_numbers, calls;
