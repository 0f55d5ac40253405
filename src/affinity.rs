//! Where floe's threads run.
//!
//! A thread inherits the CPU affinity of the thread that spawns it, so a
//! background thread started from the pinned hot thread (the journal's
//! prefault/sync thread, the snapshot writer) would share the hot core and
//! preempt it. Such threads call [`keep_off`] with the hot cores, which
//! lets them run on every other online CPU.

/// Restricts the calling thread to every online CPU except those in
/// `avoid`; false (and nothing changed) when that leaves no CPU (a one-CPU
/// host, or every CPU avoided) or the OS refused.
pub fn keep_off(avoid: &[Option<usize>]) -> bool {
    let allowed: Vec<usize> = (0..configured_cpus())
        .filter(|id| !avoid.contains(&Some(*id)))
        .collect();
    if allowed.is_empty() {
        return false;
    }
    // SAFETY: `set` is a plain bit set owned by this frame; CPU_ZERO and
    // CPU_SET only write inside it (ids beyond its size are skipped), and
    // sched_setaffinity(0, ..) reads `size_of::<cpu_set_t>()` bytes of it
    // for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
        for id in allowed.into_iter().filter(|&id| id < max) {
            libc::CPU_SET(id, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// CPUs the system is configured with (ids `0..n`; the kernel leaves
/// offline ones out of any mask it is given). Not the calling thread's own
/// mask: a thread spawned from a pinned thread sees only that core there.
fn configured_cpus() -> usize {
    // SAFETY: sysconf reads a system constant; no memory is passed.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_CONF) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// For a background thread: [`keep_off`] the `hot` cores and, when the
/// thread inherited a single CPU (it was spawned from a pinned thread), that
/// CPU too.
pub fn leave_hot_cores(hot: [Option<usize>; 2]) -> bool {
    let inherited = current();
    let pinned = match inherited.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    keep_off(&[hot[0], hot[1], pinned])
}

/// The CPUs the calling thread may run on.
pub fn current() -> Vec<usize> {
    // SAFETY: as in `keep_off`; sched_getaffinity writes at most
    // `size_of::<cpu_set_t>()` bytes into `set`, and CPU_ISSET reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
        (0..max).filter(|&i| libc::CPU_ISSET(i, &set)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_spawned_from_a_pinned_thread_moves_off_its_core() {
        let cpus = core_affinity::get_core_ids().unwrap_or_default();
        if cpus.len() < 2 {
            eprintln!("skipped: needs two CPUs");
            return;
        }
        let hot = cpus[cpus.len() - 1].id;
        let seen = std::thread::spawn(move || {
            assert!(core_affinity::set_for_current(core_affinity::CoreId {
                id: hot
            }));
            std::thread::spawn(move || {
                let inherited = current();
                assert!(keep_off(&[Some(hot), None]));
                (inherited, current())
            })
            .join()
            .expect("inner thread")
        })
        .join()
        .expect("outer thread");
        assert_eq!(
            seen.0,
            vec![hot],
            "a spawned thread inherits its parent's core"
        );
        assert!(
            !seen.1.contains(&hot),
            "kept off the hot core: {:?}",
            seen.1
        );
        assert_eq!(
            seen.1.len(),
            cpus.len() - 1,
            "every other CPU: {:?}",
            seen.1
        );
    }

    #[test]
    fn a_background_thread_leaves_the_core_it_inherited() {
        let cpus = core_affinity::get_core_ids().unwrap_or_default();
        if cpus.len() < 2 {
            eprintln!("skipped: needs two CPUs");
            return;
        }
        let hot = cpus[0].id;
        let after = std::thread::spawn(move || {
            assert!(core_affinity::set_for_current(core_affinity::CoreId {
                id: hot
            }));
            std::thread::spawn(|| {
                assert!(leave_hot_cores([None, None]));
                current()
            })
            .join()
            .expect("inner thread")
        })
        .join()
        .expect("outer thread");
        assert!(!after.contains(&hot), "{after:?}");
        assert!(!after.is_empty());
    }

    #[test]
    fn avoiding_every_cpu_changes_nothing() {
        let cpus: Vec<Option<usize>> = core_affinity::get_core_ids()
            .unwrap_or_default()
            .iter()
            .map(|c| Some(c.id))
            .collect();
        let before = std::thread::spawn(move || {
            let before = current();
            assert!(!keep_off(&cpus));
            assert_eq!(current(), before);
            before
        })
        .join()
        .expect("thread");
        assert!(!before.is_empty());
    }
}
