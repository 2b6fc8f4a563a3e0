//! A tenant's share of the limits every tenant draws on: with several tenants, none may hold
//! more than `--tenant-share` of the live sessions, of the event streams, of the queued
//! jobs (those counted by the store, `NewJob::tenant_queued_max`), of the solves waiting for
//! a worker or of the job results downloading, so one tenant cannot keep the others out (a security review filled a server's sessions, streams and queue with one
//! token, and a second tenant's got 429 for as long as the first held them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The most one tenant may hold of a `limit` under `share` (a fraction in (0, 1]) on a server
/// of `tenants` tenants: all of it with one tenant, else at least 1.
pub fn per_tenant(limit: usize, share: f64, tenants: usize) -> usize {
    if tenants <= 1 {
        limit
    } else {
        ((limit as f64 * share).floor() as usize).clamp(1, limit.max(1))
    }
}

/// The refusal of a request past its tenant's share of a limit: 429 `queue_full` with
/// `Retry-After: retry_s`, "tenant T has HELD WHAT, its share of this server's LIMIT
/// (--tenant-share); THEN".
pub fn past_share(
    tenant: &str,
    held: usize,
    what: &str,
    limit: usize,
    then: &str,
    retry_s: u64,
) -> crate::error::UserError {
    crate::error::UserError::new(
        crate::error::Code::QueueFull,
        format!("tenant {tenant} has {held} {what}, its share of this server's {limit} (--tenant-share); {then}"),
    )
    .retry_after(retry_s)
}

/// One limit's holdings by tenant, taken through guards that give their unit back on drop.
pub struct TenantShare {
    max: usize,
    held: Mutex<HashMap<String, usize>>,
}

impl TenantShare {
    pub fn new(max: usize) -> Arc<TenantShare> {
        Arc::new(TenantShare {
            max,
            held: Mutex::default(),
        })
    }

    /// The most one tenant may hold.
    pub fn max(&self) -> usize {
        self.max
    }

    /// One unit for `tenant`, unless it holds its share already.
    pub fn try_take(self: &Arc<Self>, tenant: &str) -> Option<ShareHeld> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(tenant.to_string()).or_default();
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(ShareHeld {
            share: self.clone(),
            tenant: tenant.to_string(),
        })
    }
}

/// A unit of a tenant's share, given back when dropped.
pub struct ShareHeld {
    share: Arc<TenantShare>,
    tenant: String,
}

impl Drop for ShareHeld {
    fn drop(&mut self) {
        let mut held = self.share.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.tenant) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.tenant);
            }
        }
    }
}

/// Turns in one first-come line (a `tokio` semaphore's waiters) with one place in it per
/// tenant at a time: a tenant's next waiter stands in the line only once its last has left
/// it, at the back. The line is served in turns across the tenants waiting, so one tenant's
/// many waiters do not keep another's one behind all of them (a review's tenant waited over
/// 40 s for a small solve behind 63 large ones of another).
pub struct TenantTurns {
    places: TenantSemaphores,
}

impl Default for TenantTurns {
    fn default() -> Self {
        TenantTurns {
            places: TenantSemaphores::new(1),
        }
    }
}

impl TenantTurns {
    /// `tenant`'s place in the line, once its waiter before has left it.
    pub async fn place(&self, tenant: &str) -> tokio::sync::OwnedSemaphorePermit {
        self.places
            .of(tenant)
            .acquire_owned()
            .await
            .expect("a place is never closed")
    }
}

/// A semaphore of `permits` per tenant, made at its first use. Tenants are the tokens
/// file's, so the map stays as small as that.
pub struct TenantSemaphores {
    permits: usize,
    by_tenant: Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl TenantSemaphores {
    pub fn new(permits: usize) -> TenantSemaphores {
        TenantSemaphores {
            permits,
            by_tenant: Mutex::default(),
        }
    }

    /// `tenant`'s semaphore.
    pub fn of(&self, tenant: &str) -> Arc<tokio::sync::Semaphore> {
        let mut by_tenant = self.by_tenant.lock().unwrap_or_else(|p| p.into_inner());
        by_tenant
            .entry(tenant.to_string())
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.permits)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_holds_at_most_its_share_and_gives_it_back() {
        assert_eq!(per_tenant(256, 0.5, 1), 256);
        assert_eq!(per_tenant(256, 0.5, 3), 128);
        assert_eq!(per_tenant(3, 0.5, 2), 1);
        assert_eq!(per_tenant(1, 0.1, 2), 1);
        assert_eq!(per_tenant(10, 1.0, 2), 10);
        let share = TenantShare::new(2);
        let a1 = share.try_take("a").unwrap();
        let _a2 = share.try_take("a").unwrap();
        assert!(share.try_take("a").is_none());
        let _b = share.try_take("b").unwrap();
        drop(a1);
        assert!(share.try_take("a").is_some());
        assert_eq!(
            share.held.lock().unwrap().get("a"),
            Some(&1),
            "the guard above dropped"
        );
    }

    /// Two solve slots' worth of line: tenant a queues six waiters, then b one; b's is served
    /// second, not seventh.
    #[tokio::test]
    async fn the_line_is_served_in_turns_across_tenants() {
        use tokio::sync::Semaphore;
        let slots = Arc::new(Semaphore::new(0));
        let turns = Arc::new(TenantTurns::default());
        let served = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for (k, tenant) in ["a", "a", "a", "a", "a", "a", "b"].into_iter().enumerate() {
            let (slots, turns, served) = (slots.clone(), turns.clone(), served.clone());
            waiters.push(tokio::spawn(async move {
                let place = turns.place(tenant).await;
                let slot = slots.acquire_owned().await.unwrap();
                drop(place);
                served.lock().unwrap().push(format!("{tenant}{k}"));
                slot.forget();
            }));
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        for _ in 0..7 {
            slots.add_permits(1);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for w in waiters {
            w.await.unwrap();
        }
        let served = served.lock().unwrap().clone();
        assert_eq!(served, ["a0", "b6", "a1", "a2", "a3", "a4", "a5"]);
    }
}
