-- Issue #10: each live number keeps the JSON the native API shows for it, written with every
-- change of the row, so a page of numbers is copied out instead of decoded and written anew
-- (that was four fifths of a page's time). NULL where no stored view is right: deleted numbers,
-- released dedicated numbers (their view shows the carrier release, a job's state) and rows
-- written before this migration; those are rendered from their columns when read.
ALTER TABLE numbers ADD COLUMN view TEXT;
