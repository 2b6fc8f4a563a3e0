//! The shapes of the API's answers that come from the engine, as OpenAPI schemas.

closed_set! {
    /// The status of a solve (SPEC section 3), and so of a batch run: `feasible` is the
    /// greedy baseline's plan, `error` a solver that failed (or, for a run, a scenario that
    /// could not be made).
    pub enum SolveStatus {
        Optimal = "optimal",
        Feasible = "feasible",
        Infeasible = "infeasible",
        TimeLimit = "time_limit",
        Error = "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine's status and ours are spelled alike.
    #[test]
    fn solve_status_matches_the_engine() {
        use commonsnet_engine::Status;
        let engine = [
            Status::Optimal,
            Status::Feasible,
            Status::Infeasible,
            Status::TimeLimit,
            Status::Error,
        ];
        assert_eq!(engine.len(), SolveStatus::ALL.len());
        for (e, &s) in engine.into_iter().zip(SolveStatus::ALL) {
            assert_eq!(serde_json::to_value(e).unwrap(), s.as_str());
            assert_eq!(e.as_str().parse::<SolveStatus>().unwrap(), s);
        }
    }
}
