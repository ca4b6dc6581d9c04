-- A delivery's workspace is its webhook's and its event's; both keys already
-- cascade a workspace's deletion to its deliveries. The redundant check cost
-- one row lock on the workspace per delivery written.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_workspace_id_fkey;
