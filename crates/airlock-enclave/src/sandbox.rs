//! The confinement a training command runs under, applied by the helper process to itself just
//! before it becomes the command (`exec`): it dies with its parent; a new user and network
//! namespace (no interface but a loopback that is down: no network at all); Landlock allowing
//! reads of the system's program folders, the inputs and the paths the user names, writes only
//! under the output folder, no TCP bind or connect, no abstract Unix sockets or signals out of
//! the sandbox; no core dumps; optional memory and CPU limits. Landlock must be enforced:
//! on a kernel without it the enclave refuses to run.

use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, path_beneath_rules,
};
use nix::sys::resource::{Resource, setrlimit};

use crate::{EnclaveError, Result};

/// System folders a command may read and execute from (programs, libraries, configuration).
pub const SYSTEM_READ: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc", "/opt", "/proc", "/sys",
];

/// What the helper applies to itself.
#[derive(Debug, Clone)]
pub struct Confinement {
    /// The decrypted inputs (read only).
    pub data: PathBuf,
    /// The only place the command may write.
    pub out: PathBuf,
    /// More read-only paths: the command's code and its environment (a virtualenv).
    pub read: Vec<PathBuf>,
    /// Address-space limit, bytes.
    pub memory: Option<u64>,
    /// CPU time limit, seconds.
    pub cpu_seconds: Option<u64>,
    /// The enclave's process: the helper dies with it (checked after the death signal is set,
    /// so a parent already gone is caught too).
    pub parent: u32,
    /// The helper's own executable, which it runs again as the process namespace's first
    /// process (read and execute only).
    pub helper: PathBuf,
    /// `--allow-net loopback`: the namespace's own loopback interface is brought up and TCP is
    /// allowed on it (it is the only interface there: nothing outside is reachable).
    pub loopback: bool,
}

/// The second stage, the first process of the new process namespace: it dies with the first
/// stage (so the whole namespace dies with the enclave), then the caller execs the command.
/// `stage1` is the first stage's process id as the outer namespace numbers it.
pub fn enter_init(stage1: u32) -> Result<()> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| EnclaveError::Confine(format!("parent-death signal: {e}")))?;
    // in a new namespace the parent's id reads 0; /proc is still the outer one's
    if !airlock_core::output::process_may_run(stage1) {
        return Err(EnclaveError::Confine("the enclave process is gone".into()));
    }
    Ok(())
}

impl Confinement {
    /// Confines this process (single-threaded: call before any thread starts). On success the
    /// caller execs the command.
    pub fn enter(&self) -> Result<()> {
        let fail =
            |what: &str, e: &dyn std::fmt::Display| EnclaveError::Confine(format!("{what}: {e}"));
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
            .map_err(|e| fail("parent-death signal", &e))?;
        if nix::unistd::getppid().as_raw() != self.parent as i32 {
            return Err(EnclaveError::Confine("the enclave process is gone".into()));
        }
        // a user namespace (unprivileged) that holds a network namespace with no way out
        let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
        // and a process namespace: the command runs as the first process of it (`init`), so
        // that when it dies (with the enclave) the kernel kills everything it started
        nix::sched::unshare(
            nix::sched::CloneFlags::CLONE_NEWUSER | nix::sched::CloneFlags::CLONE_NEWNET,
        )
        .map_err(|e| fail("a new network namespace", &e))?;
        std::fs::write("/proc/self/setgroups", "deny")
            .map_err(|e| fail("user namespace setgroups", &e))?;
        std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))
            .map_err(|e| fail("user namespace uid map", &e))?;
        std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
            .map_err(|e| fail("user namespace gid map", &e))?;
        if self.loopback {
            // the namespace's loopback, by iproute2 (we hold CAP_NET_ADMIN in the namespace)
            let up = ["/usr/sbin/ip", "/sbin/ip", "/bin/ip", "/usr/bin/ip"]
                .iter()
                .find(|p| Path::new(p).exists())
                .ok_or_else(|| {
                    EnclaveError::Confine("--allow-net loopback needs iproute2's ip".into())
                })?;
            let status = std::process::Command::new(up)
                .args(["link", "set", "lo", "up"])
                .env_clear()
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .map_err(|e| fail("the loopback interface", &e))?;
            if !status.success() {
                return Err(EnclaveError::Confine(
                    "the loopback interface did not come up".into(),
                ));
            }
        }
        // the process namespace last: the first process started after this is its init, and
        // that must be the command's stage, not a helper such as `ip`
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID)
            .map_err(|e| fail("a new process namespace", &e))?;
        // no core dump can carry the data out; memory and CPU as asked
        setrlimit(Resource::RLIMIT_CORE, 0, 0).map_err(|e| fail("core limit", &e))?;
        if let Some(m) = self.memory {
            setrlimit(Resource::RLIMIT_AS, m, m).map_err(|e| fail("memory limit", &e))?;
        }
        if let Some(c) = self.cpu_seconds {
            setrlimit(Resource::RLIMIT_CPU, c, c).map_err(|e| fail("CPU limit", &e))?;
        }
        self.landlock()
    }

    fn landlock(&self) -> Result<()> {
        let fail = |e: landlock::RulesetError| EnclaveError::Confine(format!("Landlock: {e}"));
        let abi = ABI::V6;
        let read_exec = AccessFs::from_read(abi);
        let mut read: Vec<PathBuf> = SYSTEM_READ.iter().map(PathBuf::from).collect();
        read.extend(self.read.iter().cloned());
        read.push(self.data.clone());
        read.push(self.helper.clone());
        let devices = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"];
        // file-system confinement is required; what newer kernels add (TCP, scopes) is taken
        // where the kernel has it
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(AccessFs::from_all(ABI::V1))
            .map_err(fail)?
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(AccessFs::from_all(abi))
            .map_err(fail)?;
        // TCP is refused unless loopback was asked for (the namespace has no other interface)
        if !self.loopback {
            ruleset = ruleset
                .handle_access(AccessNet::from_all(abi))
                .map_err(fail)?;
        }
        let status = ruleset
            .scope(Scope::from_all(abi))
            .map_err(fail)?
            .create()
            .map_err(fail)?
            .add_rules(path_beneath_rules(&read, read_exec))
            .map_err(fail)?
            .add_rules(path_beneath_rules(devices, AccessFs::from_all(abi)))
            .map_err(fail)?
            .add_rules(path_beneath_rules([&self.out], AccessFs::from_all(abi)))
            .map_err(fail)?
            .restrict_self()
            .map_err(fail)?;
        match status.ruleset {
            RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => Ok(()),
            RulesetStatus::NotEnforced => Err(EnclaveError::Confine(
                "this kernel does not enforce Landlock; the enclave does not run a command unconfined".into(),
            )),
        }
    }
}

/// A path for the command, canonical (Landlock rules follow real paths).
pub fn real(path: &Path) -> Result<PathBuf> {
    path.canonicalize().map_err(|e| EnclaveError::Io {
        action: "find",
        path: path.to_path_buf(),
        source: e,
    })
}
