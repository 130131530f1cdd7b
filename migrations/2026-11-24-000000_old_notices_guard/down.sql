-- The guard changes nothing.
SELECT 1;
