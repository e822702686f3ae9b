//! The object store: current objects per kind, the global resource-version counter, the
//! retained event history that watches resume from, and the open watchers' queues.
//!
//! One mutex guards it all, so taking a LIST snapshot or registering a watcher is atomic with
//! respect to writes: a watcher never misses or doubles an event. The mutex is never held
//! across an await, and writes only `try_send` to watchers: a watcher whose queue is full is
//! dropped (its stream ends and the client resumes or relists), so a slow client never blocks
//! a write.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::object::{now_timestamp, object_key, PreparedObject, StoredObject};
use crate::resources::RESOURCES;
use crate::Error;

/// Events a watcher may fall behind by before it is dropped.
const WATCHER_QUEUE: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    Added,
    Modified,
    Deleted,
}

/// One change, as kept in the history and queued to watchers.
#[derive(Debug)]
pub(crate) struct Event {
    pub resource_version: u64,
    pub kind: EventKind,
    /// The new state; for DELETED the last state stamped with the deletion's version.
    pub object: Arc<StoredObject>,
    /// The state before a MODIFIED, to tell a watcher with a selector that the object left it.
    pub previous: Option<Arc<StoredObject>>,
}

/// What a watcher's queue carries.
#[derive(Debug)]
pub(crate) enum WatchItem {
    Event(Arc<Event>),
    /// A bookmark at this version, queued behind every event up to it.
    Bookmark(u64),
}

struct WatcherSlot {
    id: u64,
    sender: mpsc::Sender<WatchItem>,
}

/// Where a new watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchFrom {
    /// Now; with `initial_events`, the current objects are returned to send as ADDED first.
    Now { initial_events: bool },
    /// After this version: retained events newer than it are replayed.
    After(u64),
}

/// A registered watcher: what to send first, then the live queue.
pub(crate) struct WatchStart {
    pub id: u64,
    /// The version the initial objects and replay bring the watcher to.
    pub resource_version: u64,
    /// Current objects, to send as ADDED (only for [`WatchFrom::Now`] with initial events).
    pub initial: Vec<Arc<StoredObject>>,
    /// Retained events after the requested version (only for [`WatchFrom::After`]).
    pub replay: Vec<Arc<Event>>,
    pub queue: mpsc::Receiver<WatchItem>,
}

/// The requested version is older than what the history still holds: 410 Gone.
#[derive(Debug)]
pub(crate) struct Expired {
    pub requested: u64,
    pub oldest: u64,
}

/// Which page of which objects a LIST wants.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ListRequest<'a> {
    pub resource: usize,
    /// Only objects in this namespace.
    pub namespace: Option<&'a str>,
    /// Start after this key (from a continue token).
    pub after: Option<&'a str>,
    /// The first page's version (from a continue token).
    pub page_version: Option<u64>,
    /// At most this many items.
    pub limit: Option<usize>,
    /// Count the matching items after the page.
    pub count_remaining: bool,
}

/// One page of a LIST.
pub(crate) struct ListPage {
    pub resource_version: u64,
    pub items: Vec<Arc<StoredObject>>,
    /// Key of the last item, when more items follow.
    pub continue_after: Option<String>,
    /// How many matching items follow, when counted.
    pub remaining: Option<u64>,
}

struct StoreState {
    resource_version: u64,
    /// Watches and continue tokens from a version below this get 410 Gone.
    oldest_resumable: u64,
    history_capacity: usize,
    objects: Vec<BTreeMap<String, Arc<StoredObject>>>,
    history: VecDeque<Arc<Event>>,
    watchers: Vec<Vec<WatcherSlot>>,
    next_watcher: u64,
    next_uid: u64,
}

pub(crate) struct Store {
    state: Mutex<StoreState>,
}

impl StoreState {
    fn record(&mut self, event: Event) {
        let event = Arc::new(event);
        let resource = event.object.resource;
        self.watchers[resource].retain(|slot| {
            slot.sender
                .try_send(WatchItem::Event(event.clone()))
                .is_ok()
        });
        if self.history_capacity == 0 {
            self.oldest_resumable = event.resource_version;
            return;
        }
        if self.history.len() == self.history_capacity {
            if let Some(forgotten) = self.history.pop_front() {
                self.oldest_resumable = forgotten.resource_version;
            }
        }
        self.history.push_back(event);
    }

    fn apply(&mut self, prepared: PreparedObject) -> Result<u64, Error> {
        let resource = prepared.resource;
        let previous = self.objects[resource].get(&prepared.key).cloned();
        let uid = match (prepared.own_uid(), &previous) {
            (Some(uid), _) => uid.to_owned(),
            (None, Some(previous)) => previous.uid.clone(),
            (None, None) => {
                self.next_uid += 1;
                format!("00000000-0000-4000-8000-{:012x}", self.next_uid)
            }
        };
        let created = match (prepared.own_creation_timestamp(), &previous) {
            (Some(created), _) => created.to_owned(),
            (None, Some(previous)) => previous.created.clone(),
            (None, None) => now_timestamp(),
        };
        let resource_version = self.resource_version + 1;
        let object = Arc::new(prepared.finish(resource_version, uid, created)?);
        self.resource_version = resource_version;
        self.objects[resource].insert(object.key.clone(), object.clone());
        let kind = if previous.is_some() {
            EventKind::Modified
        } else {
            EventKind::Added
        };
        self.record(Event {
            resource_version,
            kind,
            object,
            previous,
        });
        Ok(resource_version)
    }
}

impl Store {
    pub(crate) fn new(history_capacity: usize) -> Store {
        Store {
            state: Mutex::new(StoreState {
                resource_version: 1,
                oldest_resumable: 0,
                history_capacity,
                objects: RESOURCES.iter().map(|_| BTreeMap::new()).collect(),
                history: VecDeque::new(),
                watchers: RESOURCES.iter().map(|_| Vec::new()).collect(),
                next_watcher: 0,
                next_uid: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, StoreState> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters to a test server; keep serving.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn resource_version(&self) -> u64 {
        self.lock().resource_version
    }

    /// Creates or replaces every object, in order, under one lock. Objects are all checked
    /// before any is stored. Returns the version of the last write.
    pub(crate) fn apply_all(&self, objects: Vec<PreparedObject>) -> Result<u64, Error> {
        let mut state = self.lock();
        let mut last = state.resource_version;
        for object in objects {
            last = state.apply(object)?;
        }
        Ok(last)
    }

    pub(crate) fn delete(&self, resource: usize, namespace: &str, name: &str) -> bool {
        let key = object_key(namespace, name);
        let mut state = self.lock();
        let Some(last) = state.objects[resource].remove(&key) else {
            return false;
        };
        let resource_version = state.resource_version + 1;
        state.resource_version = resource_version;
        let object = Arc::new(last.with_resource_version(resource_version));
        state.record(Event {
            resource_version,
            kind: EventKind::Deleted,
            object,
            previous: Some(last),
        });
        true
    }

    /// Forgets the history and ends every open watch: a resume from any version handed out
    /// so far is answered 410 Gone, which forces clients to relist.
    pub(crate) fn compact(&self) {
        let mut state = self.lock();
        state.history.clear();
        state.resource_version += 1;
        state.oldest_resumable = state.resource_version;
        for watchers in &mut state.watchers {
            watchers.clear();
        }
    }

    /// Ends every open watch (their queues close once drained).
    pub(crate) fn drop_watchers(&self) {
        let mut state = self.lock();
        for watchers in &mut state.watchers {
            watchers.clear();
        }
    }

    pub(crate) fn get(
        &self,
        resource: usize,
        namespace: &str,
        name: &str,
    ) -> Option<Arc<StoredObject>> {
        self.lock().objects[resource]
            .get(&object_key(namespace, name))
            .cloned()
    }

    /// The objects a LIST page asks for that pass `filter`. A `page_version` (from a continue
    /// token) is checked against the history and reported as the page's version, so every
    /// page of one LIST reports the first page's version and the client's watch replays what
    /// changed since.
    pub(crate) fn list(
        &self,
        request: &ListRequest<'_>,
        filter: impl Fn(&StoredObject) -> bool,
    ) -> Result<ListPage, Expired> {
        let ListRequest {
            resource,
            namespace,
            after,
            page_version,
            limit,
            count_remaining,
        } = *request;
        let state = self.lock();
        let resource_version = match page_version {
            Some(version) if version < state.oldest_resumable => {
                return Err(Expired {
                    requested: version,
                    oldest: state.oldest_resumable,
                })
            }
            Some(version) => version,
            None => state.resource_version,
        };
        let prefix = namespace.map(|ns| format!("{ns}/"));
        let lower = match (after, &prefix) {
            (Some(after), _) => Bound::Excluded(after),
            (None, Some(prefix)) => Bound::Included(prefix.as_str()),
            (None, None) => Bound::Unbounded,
        };
        let mut in_scope = state.objects[resource]
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(key, _)| prefix.as_ref().is_none_or(|p| key.starts_with(p.as_str())))
            .map(|(_, object)| object)
            .filter(|object| filter(object));
        let limit = limit.unwrap_or(usize::MAX);
        let mut items = Vec::new();
        for object in in_scope.by_ref() {
            items.push(object.clone());
            if items.len() == limit {
                break;
            }
        }
        let (continue_after, remaining) = match in_scope.next() {
            None => (None, None),
            Some(_) => {
                let remaining = count_remaining.then(|| 1 + in_scope.count() as u64);
                (items.last().map(|o| o.key.clone()), remaining)
            }
        };
        Ok(ListPage {
            resource_version,
            items,
            continue_after,
            remaining,
        })
    }

    /// Registers a watcher of one kind and returns what it must send before its live queue.
    pub(crate) fn watch(
        &self,
        resource: usize,
        namespace: Option<&str>,
        from: WatchFrom,
    ) -> Result<WatchStart, Expired> {
        let mut state = self.lock();
        let (initial, replay) = match from {
            WatchFrom::Now { initial_events } => {
                let initial = if initial_events {
                    let prefix = namespace.map(|ns| format!("{ns}/"));
                    state.objects[resource]
                        .iter()
                        .filter(|(key, _)| {
                            prefix.as_ref().is_none_or(|p| key.starts_with(p.as_str()))
                        })
                        .map(|(_, object)| object.clone())
                        .collect()
                } else {
                    Vec::new()
                };
                (initial, Vec::new())
            }
            WatchFrom::After(version) => {
                if version < state.oldest_resumable {
                    return Err(Expired {
                        requested: version,
                        oldest: state.oldest_resumable,
                    });
                }
                let start = state
                    .history
                    .partition_point(|event| event.resource_version <= version);
                let replay = state
                    .history
                    .range(start..)
                    .filter(|event| event.object.resource == resource)
                    .cloned()
                    .collect();
                (Vec::new(), replay)
            }
        };
        let (sender, queue) = mpsc::channel(WATCHER_QUEUE);
        state.next_watcher += 1;
        let id = state.next_watcher;
        state.watchers[resource].push(WatcherSlot { id, sender });
        Ok(WatchStart {
            id,
            resource_version: state.resource_version,
            initial,
            replay,
            queue,
        })
    }

    /// Queues a bookmark at the current version behind the events already queued to this
    /// watcher, so the version it reports is never ahead of what the watcher has been sent.
    pub(crate) fn queue_bookmark(&self, resource: usize, watcher: u64) {
        let state = self.lock();
        if let Some(slot) = state.watchers[resource].iter().find(|s| s.id == watcher) {
            // A full queue already carries newer events; skipping one bookmark is harmless.
            let _ = slot
                .sender
                .try_send(WatchItem::Bookmark(state.resource_version));
        }
    }

    pub(crate) fn unregister(&self, resource: usize, watcher: u64) {
        self.lock().watchers[resource].retain(|slot| slot.id != watcher);
    }

    /// Number of objects of a kind.
    pub(crate) fn count(&self, resource: usize) -> usize {
        self.lock().objects[resource].len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_kind;
    use serde_json::json;

    fn service(name: &str, ns: &str) -> PreparedObject {
        PreparedObject::new(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns}
        }))
        .unwrap()
    }

    fn services() -> usize {
        by_kind("v1", "Service").unwrap()
    }

    #[test]
    fn versions_rise_and_events_say_added_modified_deleted() {
        let store = Store::new(100);
        let start = store.watch(services(), None, WatchFrom::After(1)).unwrap();
        let mut queue = start.queue;
        assert_eq!(store.apply_all(vec![service("a", "x")]).unwrap(), 2);
        assert_eq!(store.apply_all(vec![service("a", "x")]).unwrap(), 3);
        assert!(store.delete(services(), "x", "a"));
        assert!(!store.delete(services(), "x", "a"));
        let mut seen = Vec::new();
        while let Ok(WatchItem::Event(event)) = queue.try_recv() {
            let object: serde_json::Value = serde_json::from_slice(&event.object.json).unwrap();
            let object_version = object["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .to_owned();
            seen.push((event.kind, event.resource_version, object_version));
        }
        assert_eq!(
            seen,
            vec![
                (EventKind::Added, 2, "2".to_owned()),
                (EventKind::Modified, 3, "3".to_owned()),
                (EventKind::Deleted, 4, "4".to_owned())
            ]
        );
        assert_eq!(store.resource_version(), 4);
    }

    #[test]
    fn replacing_keeps_uid_and_creation_time() {
        let store = Store::new(100);
        store.apply_all(vec![service("a", "x")]).unwrap();
        let first = store.get(services(), "x", "a").unwrap();
        store.apply_all(vec![service("a", "x")]).unwrap();
        let second = store.get(services(), "x", "a").unwrap();
        assert_eq!(first.uid, second.uid);
        assert_eq!(first.created, second.created);
        assert_ne!(first.json, second.json, "the resource version changed");
    }

    #[test]
    fn resume_replays_only_newer_events_and_old_versions_expire() {
        let store = Store::new(2);
        for name in ["a", "b", "c", "d"] {
            store.apply_all(vec![service(name, "x")]).unwrap();
        }
        // Versions 2..=5; the history keeps 4 and 5, so resuming needs version >= 3.
        let start = store.watch(services(), None, WatchFrom::After(3)).unwrap();
        let replayed: Vec<u64> = start.replay.iter().map(|e| e.resource_version).collect();
        assert_eq!(replayed, vec![4, 5]);
        let expired = store
            .watch(services(), None, WatchFrom::After(2))
            .err()
            .unwrap();
        assert_eq!((expired.requested, expired.oldest), (2, 3));
        store.compact();
        assert!(store.watch(services(), None, WatchFrom::After(5)).is_err());
        let now = store.resource_version();
        assert!(store.watch(services(), None, WatchFrom::After(now)).is_ok());
    }

    #[test]
    fn compaction_closes_open_watches() {
        let store = Store::new(10);
        let mut start = store.watch(services(), None, WatchFrom::After(1)).unwrap();
        store.compact();
        assert!(matches!(
            start.queue.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn pages_follow_key_order_and_namespace_scope() {
        let store = Store::new(10);
        store
            .apply_all(vec![
                service("b", "x"),
                service("a", "x"),
                service("c", "y"),
                service("a", "w"),
            ])
            .unwrap();
        let keys = |page: &ListPage| page.items.iter().map(|o| o.key.clone()).collect::<Vec<_>>();
        let request = ListRequest {
            resource: services(),
            limit: Some(2),
            count_remaining: true,
            ..ListRequest::default()
        };
        let page = store.list(&request, |_| true).unwrap();
        assert_eq!(keys(&page), vec!["w/a", "x/a"]);
        assert_eq!(page.continue_after.as_deref(), Some("x/a"));
        assert_eq!(page.remaining, Some(2));
        let next_request = ListRequest {
            after: Some("x/a"),
            page_version: Some(page.resource_version),
            ..request
        };
        let next = store.list(&next_request, |_| true).unwrap();
        assert_eq!(keys(&next), vec!["x/b", "y/c"]);
        assert_eq!(next.continue_after, None);
        let in_x = store
            .list(
                &ListRequest {
                    resource: services(),
                    namespace: Some("x"),
                    ..ListRequest::default()
                },
                |_| true,
            )
            .unwrap();
        assert_eq!(keys(&in_x), vec!["x/a", "x/b"]);
        let filtered = store
            .list(
                &ListRequest {
                    resource: services(),
                    limit: Some(1),
                    ..ListRequest::default()
                },
                |o| o.name == "a",
            )
            .unwrap();
        assert_eq!(keys(&filtered), vec!["w/a"]);
        assert_eq!(filtered.continue_after.as_deref(), Some("w/a"));
    }

    #[test]
    fn a_full_watcher_is_dropped_instead_of_blocking_writes() {
        let store = Store::new(10);
        let mut start = store.watch(services(), None, WatchFrom::After(1)).unwrap();
        let objects = (0..WATCHER_QUEUE + 1)
            .map(|i| service(&format!("s{i}"), "x"))
            .collect();
        store.apply_all(objects).unwrap();
        let mut received = 0;
        while start.queue.try_recv().is_ok() {
            received += 1;
        }
        assert_eq!(received, WATCHER_QUEUE);
        assert!(matches!(
            start.queue.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }
}
