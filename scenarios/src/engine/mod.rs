//! The scenario engine: plays scenario steps on the in-process [`crate::world`] (issue 7).
