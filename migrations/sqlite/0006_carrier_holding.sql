-- The carrier account that holds a number, its kind and the carrier's own id for it (Twilio's
-- PN… sid, Telnyx's phone-number id): a number is released where it is held, whatever the
-- default account is by then. NULL for numbers no carrier manages (registered by hand).
ALTER TABLE numbers ADD COLUMN carrier_account TEXT;
ALTER TABLE numbers ADD COLUMN carrier_kind TEXT;
ALTER TABLE numbers ADD COLUMN carrier_ref TEXT;
