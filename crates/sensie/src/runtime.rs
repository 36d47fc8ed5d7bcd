//! ONNX Runtime: finding its shared library, and making sessions.
//!
//! sensie loads `libonnxruntime.so` at run time (the `ort` crate's
//! `load-dynamic` mode) because no prebuilt binary can be downloaded at build
//! time. The library is looked for, in order, at:
//! 1. `$SENSIE_ORT_LIB`, then `$ORT_DYLIB_PATH`;
//! 2. beside the running executable, or in `lib/` beside or above it;
//! 3. where `scripts/setup.sh` installed it for the checkout this crate was
//!    built from (`.sensie/lib/`), when the `checkout-runtime` feature (on by
//!    default) baked that path in.
//!
//! A caller that knows where the library is (the Python package, which uses
//! the one inside the installed `onnxruntime` wheel) skips the search with
//! [`Runtime::from_library`].
//!
//! ONNX Runtime allows one environment per process, so [`Runtime`] is a cheap
//! handle onto that one environment; everything else (threads, sessions)
//! belongs to the caller.
//!
//! ONNX Runtime 1.32's Linux build records usage telemetry (a device id and
//! an offline event store under `$XDG_CACHE_HOME/Microsoft`, `~/.cache`
//! when that is unset, uploaded when it can)
//! unless [`TELEMETRY_OFF`] is set in the environment before the library
//! loads: about a tenth of a short probe's start-up here, and nothing a
//! scientist's tool should send. The command line and the Python package
//! set it when the user has not ([`TELEMETRY_OFF`] = 0 keeps telemetry on);
//! a library user sets it in the process environment, which only the
//! program's `main` can change safely. (ONNX Runtime also keeps quiet by
//! itself where the environment looks like CI: `CI`, `GITHUB_ACTIONS`,
//! `JENKINS_URL`, `GITLAB_CI`, `TF_BUILD` and the like; `DO_NOT_TRACK` and
//! `BUILD_ID` do not stop it.)

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

use crate::{Error, Result};

/// The environment variable that turns ONNX Runtime's telemetry off when it
/// is 1 at the time the library loads.
pub const TELEMETRY_OFF: &str = "ORT_DISABLE_TELEMETRY";

/// A handle onto the process's ONNX Runtime environment.
#[derive(Clone)]
pub struct Runtime {
    env: ort::environment::Environment,
}

/// How sessions run.
#[derive(Clone, Copy, Debug)]
pub struct SessionOptions {
    /// Threads inside one operator; 0 lets ONNX Runtime choose (one per core).
    pub threads: usize,
    /// When those threads busy-wait for work instead of sleeping.
    pub spinning: Spinning,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            threads: 0,
            spinning: Spinning::Always,
        }
    }
}

/// When ONNX Runtime's intra-op threads spin (busy-wait) for their next
/// piece of work. Spinning hands work from one operator to the next without
/// waking a sleeping thread, which is most of a small model's forward pass;
/// between two runs it only burns cores that the caller's own threads need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spinning {
    /// Inside runs and between them (ONNX Runtime's default): the fastest
    /// when the model has the cores to itself.
    Always,
    /// Inside a run only: the threads stop spinning when it returns
    /// (`session.force_spinning_stop`), so the caller's threads get the
    /// cores between runs, as the probe's perturbations do.
    DuringRuns,
    /// Never: a waiting thread sleeps and hands its core to another thread
    /// of the process that works while the model runs (a Python function
    /// perturbing the next batch).
    Never,
}

static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

impl Runtime {
    /// Loads ONNX Runtime (once per process) and returns a handle onto it.
    pub fn new() -> Result<Runtime> {
        Runtime::load(find_library)
    }

    /// Loads ONNX Runtime from `library`, an absolute path to
    /// `libonnxruntime.so`, without searching. ONNX Runtime keeps the first
    /// library a process loads: once any runtime is loaded this returns a
    /// handle onto that one, whatever `library` says.
    pub fn from_library(library: &Path) -> Result<Runtime> {
        Runtime::load(|| {
            if !library.is_absolute() {
                return Err(format!(
                    "{} is not an absolute path; give the library's full path",
                    library.display()
                ));
            }
            if !library.is_file() {
                return Err(format!("{} does not exist", library.display()));
            }
            Ok(library.to_path_buf())
        })
    }

    fn load(locate: impl FnOnce() -> std::result::Result<PathBuf, String>) -> Result<Runtime> {
        let env = ENVIRONMENT.get_or_init(|| {
            let lib = locate()?;
            let builder = ort::init_from(&lib).map_err(|e| format!("{}: {e}", lib.display()))?;
            builder
                .with_name("sensie")
                .build()
                .map_err(|e| format!("{}: {e}", lib.display()))
        });
        match env {
            Ok(env) => Ok(Runtime { env: env.clone() }),
            Err(message) => Err(Error::RuntimeLibrary(message.clone())),
        }
    }

    /// A session for a serialised model, with full graph optimisation (lower
    /// levels were about 3 times slower on gradient graphs) and no memory
    /// pattern: the pattern plans one block for all of a run's tensors,
    /// which the first run must fault in whole (4,000 more pages on the
    /// MNIST CNN at batch 256, 5 ms of a 95 ms probe; 6-9% of a short lens
    /// sweep), and later runs were no faster with it.
    pub fn session(
        &self,
        model_bytes: &[u8],
        what: &str,
        options: SessionOptions,
    ) -> Result<Session> {
        let fail = |e: ort::Error| Error::runtime(what, e);
        let mut builder = Session::builder(&self.env).map_err(fail)?;
        builder = builder
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| fail(e.into()))?
            .with_memory_pattern(false)
            .map_err(|e| fail(e.into()))?;
        if options.threads > 0 {
            builder = builder
                .with_intra_threads(options.threads)
                .map_err(|e| fail(e.into()))?;
        }
        builder = match options.spinning {
            Spinning::Always => builder,
            Spinning::DuringRuns => builder
                .with_config_entry("session.force_spinning_stop", "1")
                .map_err(|e| fail(e.into()))?,
            Spinning::Never => builder
                .with_intra_op_spinning(false)
                .map_err(|e| fail(e.into()))?,
        };
        builder.commit_from_memory(model_bytes).map_err(fail)
    }
}

/// Where ONNX Runtime's library is, or a message saying where it was sought
/// and how to install it.
fn find_library() -> std::result::Result<PathBuf, String> {
    const NAME: &str = "libonnxruntime.so";
    let mut tried = Vec::new();
    for var in ["SENSIE_ORT_LIB", "ORT_DYLIB_PATH"] {
        if let Some(path) = std::env::var_os(var) {
            let path = PathBuf::from(path);
            if path.is_file() {
                return Ok(path);
            }
            return Err(format!(
                "${var} names {}, which does not exist; point it at libonnxruntime.so or unset it",
                path.display()
            ));
        }
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
    {
        tried.push(dir.join(NAME));
        tried.push(dir.join("lib").join(NAME));
        if let Some(up) = dir.parent() {
            tried.push(up.join("lib").join(NAME));
        }
    }
    #[cfg(feature = "checkout-runtime")]
    tried.push(PathBuf::from(env!("SENSIE_SETUP_ORT_LIB")));
    if let Some(found) = tried.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "{NAME} not found (looked at {}); run scripts/setup.sh from the sensie checkout, \
         or set SENSIE_ORT_LIB to the path of libonnxruntime.so (ONNX Runtime 1.24 or later, e.g. from the onnxruntime wheel)",
        list.join(", ")
    ))
}
