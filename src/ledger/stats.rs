//! `--stats`: reads the ledger back (to be written).
