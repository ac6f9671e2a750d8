//! A carrier whose answers a test scripts: fail the next N calls, answer slowly, or forget a
//! number. It records every call so tests can assert what reached "the outside world".

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use super::{Carrier, CarrierError, CarrierNumber};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    ReleaseNumber,
    RemoveCallerId,
}

#[derive(Clone, Debug)]
pub enum Answer {
    Ok,
    Fail(String),
    NotFound,
    /// Sleep, then answer Ok (a caller with a shorter deadline sees a timeout).
    Delay(Duration),
}

#[derive(Default)]
pub struct ScriptedCarrier {
    script: Mutex<VecDeque<(Op, Answer)>>,
    calls: Mutex<Vec<(Op, String, bool)>>,
}

impl ScriptedCarrier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues the answers to the next calls of `op`, in order; unscripted calls succeed.
    pub fn script(&self, op: Op, answers: impl IntoIterator<Item = Answer>) {
        let mut s = self.script.lock().unwrap();
        s.extend(answers.into_iter().map(|a| (op, a)));
    }

    /// Every call so far: operation, number, and whether it succeeded.
    pub fn calls(&self) -> Vec<(Op, String, bool)> {
        self.calls.lock().unwrap().clone()
    }

    /// Successful calls of `op` for `e164`.
    pub fn successes(&self, op: Op, e164: &str) -> usize {
        self.calls().iter().filter(|(o, n, ok)| *o == op && n == e164 && *ok).count()
    }

    async fn answer(&self, op: Op, number: &CarrierNumber) -> Result<(), CarrierError> {
        let answer = {
            let mut s = self.script.lock().unwrap();
            let pos = s.iter().position(|(o, _)| *o == op);
            pos.and_then(|p| s.remove(p)).map_or(Answer::Ok, |(_, a)| a)
        };
        let result = match answer {
            Answer::Ok => Ok(()),
            Answer::Fail(msg) => Err(CarrierError::Failed(msg)),
            Answer::NotFound => Err(CarrierError::NotFound),
            Answer::Delay(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        };
        self.calls.lock().unwrap().push((op, number.e164.clone(), result.is_ok()));
        result
    }
}

#[async_trait]
impl Carrier for ScriptedCarrier {
    async fn release_number(&self, number: &CarrierNumber) -> Result<(), CarrierError> {
        self.answer(Op::ReleaseNumber, number).await
    }

    async fn remove_caller_id(&self, number: &CarrierNumber) -> Result<(), CarrierError> {
        self.answer(Op::RemoveCallerId, number).await
    }
}
