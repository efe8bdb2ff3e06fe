-- How far a job's current (or last) attempt got, as its worker reports it with each heartbeat and
-- at the end (JSON: groupsDone, records, bytes, partsWritten), for GET /x/v1/archiveJobs/{id}.
ALTER TABLE jobs ADD COLUMN progress TEXT;
