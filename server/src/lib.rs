//! The Cove chat server library.
