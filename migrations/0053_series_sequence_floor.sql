-- Feeds used to write a series' SEQUENCE as its sequence plus the occurrences the feed left out of the
-- rule (cancelled ones; in equipment and personal feeds also those on other stations or with other
-- instructors; moved or edited occurrences were overrides and not counted). They now write the
-- sequence alone, which the slots service raises with every change to an occurrence. Raising each
-- series by its number of occurrences, the most any feed ever added, keeps every SEQUENCE a subscriber
-- has seen from going down; updated_at moves too, as with every change, so feeds' versions move.
update slot_series s
set sequence = s.sequence + n.occurrences, updated_at = now()
from (
    select series_id, count(*)::integer as occurrences
    from slots
    where series_id is not null
    group by series_id
) n
where n.series_id = s.id;
