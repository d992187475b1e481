-- Workers find new jobs by asking the queue every second, not by NOTIFY. pgqueuer's trigger sent a
-- NOTIFY for every statement that changed the queue, and PostgreSQL lets one notifying transaction
-- commit at a time: it holds a lock from before the commit until after its WAL flush. Every booking
-- enqueues its job in its own transaction, so bookings with notifications on committed one by one,
-- each waiting for the previous one's disk flush (no group commit), and the worker's own updates to
-- the queue joined the same line. Mail is not urgent to the second; a booking is.
drop trigger tg_pgqueuer_changed on pgqueuer;
drop function fn_pgqueuer_changed();
