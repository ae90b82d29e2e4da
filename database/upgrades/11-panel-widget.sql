-- v11: Remember which agent panel widget each customer room has
-- The URL the room's widget state points at, NULL for none: the bridge
-- sets or removes the widget in the rooms whose value differs from its
-- config, once, instead of reading every room's state on each start.
ALTER TABLE portal ADD COLUMN panel_widget_url TEXT;
