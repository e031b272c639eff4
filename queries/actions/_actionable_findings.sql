-- title: Findings to act on
-- description: A step every action reads, computed once and not published (its name starts with _): the run's settled findings less those with a live false_positive or explained disposition, which get no action; an accepted one still does.
select *
from run.findings
where disposition is null or disposition = 'accepted'
