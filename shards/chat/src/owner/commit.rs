//! Group commit and release: nothing is acknowledged or delivered before the log's commit covers it.

use switchboard_protocol::app::{ErrorCode, Message};
use tracing::error;

use super::{FileHandle, Outbound, Owner, RETRY_AFTER_FAILURE_MS};
use crate::frames::error_frame;
use switchboard_log::{CommitCompletion, CommitIo, CommitStep, LogError, LogStorage, Lsn};

impl<S: LogStorage> Owner<S> {
    /// Commits the log and releases everything the commit covers: acks to senders, deliveries to
    /// followers, customer messages to routing. Call once per loop tick when [`Owner::needs_commit`].
    ///
    /// # Errors
    ///
    /// The log's error. A write or sync failure degrades the owner (see [`Owner::retry_log`]): the
    /// waiting senders are told to retry, their records are kept for the retry's commit.
    /// [`LogError::Failed`] while degraded.
    pub fn commit(&mut self) -> Result<(), LogError> {
        if self.degraded.is_some() {
            return Err(LogError::Failed);
        }
        match self.log.commit() {
            Ok(committed) => {
                self.release(committed);
                Ok(())
            }
            Err(error) => {
                self.fail_pending(&error);
                Err(error)
            }
        }
    }

    /// Starts an asynchronous group commit (the shard performs the I/O through its engine and reports it
    /// with [`Owner::io_complete`]). Returns the first I/O, or `None` when nothing is to be done now
    /// (nothing appended, a commit already in flight, or the commit finished at once).
    pub fn begin_commit(&mut self) -> Option<CommitIo<FileHandle<S>>> {
        if !self.commit_due() {
            return None;
        }
        let step = self.log.begin_commit();
        self.after_step(step)
    }

    /// Reports the completion of the I/O [`Owner::begin_commit`] or a previous call returned; returns
    /// the next I/O, or `None` once the commit is done (and its messages released).
    pub fn io_complete(&mut self, completion: CommitCompletion) -> Option<CommitIo<FileHandle<S>>> {
        let step = self.log.io_complete(completion).map(Some);
        self.after_step(step)
    }

    pub(super) fn after_step(
        &mut self,
        step: Result<Option<CommitStep<FileHandle<S>>>, LogError>,
    ) -> Option<CommitIo<FileHandle<S>>> {
        match step {
            Ok(Some(CommitStep::Io(io))) => Some(io),
            Ok(Some(CommitStep::Committed(committed))) => {
                self.release(committed);
                None
            }
            Ok(None) => None,
            Err(error) => {
                self.fail_pending(&error);
                None
            }
        }
    }

    pub(super) fn fail_pending(&mut self, error: &LogError) {
        if self.log_error(error) {
            return;
        }
        self.counters.log_errors += 1;
        error!(shard = self.shard, %error, "log commit failed; pending messages refused");
        for pending in std::mem::take(&mut self.pending) {
            for (to, _) in pending.ack_to {
                self.reply(
                    to,
                    vec![error_frame(
                        ErrorCode::INTERNAL,
                        "log commit failed",
                        Some(RETRY_AFTER_FAILURE_MS),
                    )],
                );
            }
        }
    }

    /// Whether a commit should start now: records wait, no commit is in flight and the log is not
    /// degraded (then [`Owner::retry_log`] commits, when its backoff allows).
    pub fn commit_due(&self) -> bool {
        self.log.needs_commit() && !self.log.commit_in_flight() && self.degraded.is_none()
    }

    /// Whether appended records wait for [`Owner::commit`].
    pub fn needs_commit(&self) -> bool {
        self.log.needs_commit()
    }

    /// Releases, in log order, everything the commit up to `committed` covers: the messages waiting
    /// for it (acks, deliveries, routing inputs) and the outputs held behind state and ticket records
    /// (see [`Owner::hold_since`]).
    pub(super) fn release(&mut self, committed: Lsn) {
        loop {
            let message = self
                .pending
                .front()
                .map(|p| p.lsn)
                .filter(|&l| l < committed);
            let held = self.held.front().map(|h| h.0).filter(|&l| l < committed);
            match (message, held) {
                (None, None) => return,
                (Some(m), Some(h)) if h < m => self.release_held_one(),
                (Some(_), _) => self.release_pending_one(),
                (None, Some(_)) => self.release_held_one(),
            }
        }
    }

    fn release_held_one(&mut self) {
        if let Some((_, output)) = self.held.pop_front() {
            self.out.push_back(output);
        }
    }

    /// Moves the outputs queued since `mark` behind the record at `lsn`: nobody is told of a change
    /// before the commit that makes it durable.
    pub(super) fn hold_since(&mut self, mark: usize, lsn: Lsn) {
        let held: Vec<Outbound> = self.out.drain(mark..).collect();
        self.held
            .extend(held.into_iter().map(|output| (lsn, output)));
    }

    fn release_pending_one(&mut self) {
        {
            let pending = self.pending.pop_front().expect("checked by release");
            let Some(conversation) = self.conversations.get_mut(&pending.conversation) else {
                return;
            };
            conversation.released_seq = conversation.released_seq.max(pending.sequence);
            let shards = conversation.interest;
            let tenant = conversation.tenant;
            let customer = conversation.customer;
            for (to, message_id) in pending.ack_to {
                self.ack(to, message_id, pending.conversation, pending.sequence);
            }
            let routed = match (&pending.delivery.frame.message, pending.for_routing) {
                (Message::Deliver(deliver), Some((value, raw))) => {
                    Some((deliver.text.clone(), value, raw))
                }
                _ => None,
            };
            self.out.push_back(Outbound::Deliver {
                shards,
                delivery: pending.delivery,
            });
            if let Some((text, customer_value, raw)) = routed {
                self.out.push_back(Outbound::CustomerMessage {
                    tenant,
                    conversation: pending.conversation,
                    customer,
                    sequence: pending.sequence,
                    text,
                    customer_value,
                    raw,
                });
            }
            if let Some(agent) = pending.from_agent {
                self.out.push_back(Outbound::AgentReplied {
                    tenant,
                    agent,
                    conversation: pending.conversation,
                });
            }
        }
    }

    /// Applies the log's retention (age and size, whole closed segments) at wall-clock `wall_ms`.
    ///
    /// # Errors
    ///
    /// The log's error when a segment cannot be deleted.
    pub fn retain(&mut self, wall_ms: u64) -> Result<switchboard_log::RetentionReport, LogError> {
        self.wall_ms = self.wall_ms.max(wall_ms);
        self.evict_idle(wall_ms);
        self.log.retain(wall_ms)
    }
}
