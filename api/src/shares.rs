//! A tenant's share of the limits every tenant draws on: with several tenants, none may hold
//! more than `--tenant-share` of the live sessions, of the event streams or of the queued
//! jobs (those counted by the store, `NewJob::tenant_queued_max`), so one tenant cannot keep
//! the others out (a security review filled a server's sessions, streams and queue with one
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
}
