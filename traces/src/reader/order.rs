//! Detection of arrivals that go backwards in file order.

use std::fmt::Display;
use std::path::Path;

use crate::TraceError;

/// Remembers the previous request's arrival, line and timestamp as written, and either rejects
/// an earlier arrival or (in reorder mode) counts it.
pub(super) struct OrderCheck<V> {
    reorder: bool,
    field: &'static str,
    previous: Option<(u64, u64, V)>,
    out_of_order: u64,
}

impl<V: Display + Clone> OrderCheck<V> {
    pub(super) fn new(field: &'static str, reorder: bool) -> Self {
        OrderCheck {
            reorder,
            field,
            previous: None,
            out_of_order: 0,
        }
    }

    /// Requests seen so far that arrived before the request above them.
    pub(super) fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    /// Checks the request on `line` arriving at `arrival` (any origin, same for all lines),
    /// written as `value`.
    pub(super) fn check(
        &mut self,
        path: &Path,
        line: u64,
        arrival: u64,
        value: &V,
    ) -> Result<(), TraceError> {
        if let Some((previous_arrival, previous_line, previous_value)) = &mut self.previous {
            if arrival < *previous_arrival {
                if !self.reorder {
                    return Err(TraceError::TimestampBackwards {
                        path: path.to_path_buf(),
                        line,
                        field: self.field,
                        value: value.to_string(),
                        previous_line: *previous_line,
                        previous_value: previous_value.to_string(),
                    });
                }
                self.out_of_order += 1;
            }
            *previous_arrival = arrival;
            *previous_line = line;
            previous_value.clone_from(value);
        } else {
            self.previous = Some((arrival, line, value.clone()));
        }
        Ok(())
    }
}
