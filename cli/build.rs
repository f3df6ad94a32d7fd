//! Links the `ember` binary statically (a glibc static PIE) where the C toolchain can.
//!
//! Why: dynamically linked, every `ember` process first loads and relocates libc, libm and
//! libgcc_s (the dynamic loader's work and the page faults of the shared objects), about
//! 1.1–1.4 ms per run on the project's machine: 7–9 % of the whole CUBA 4 000 process,
//! 20 % of a short run (benches/README.md, "Sixteenth pass"). Linked statically, the same
//! code starts without them. `-C target-feature=+crt-static` would do this too, but it
//! cannot be given to one binary of a workspace (set for the workspace, it breaks every
//! proc-macro crate), so this script asks the linker directly, for the `ember` binary
//! only: `-static-pie`, and the static unwinder `libgcc_eh` where rustc names `libgcc_s`
//! (what rustc itself links with `crt-static`). The standard library and every crate are
//! compiled exactly as before; tests, benches and examples stay dynamically linked.
//!
//! Only when building on and for x86-64 or AArch64 Linux with glibc, when the C compiler
//! finds the static C libraries (`libc.a` and friends: Debian's and Ubuntu's `libc6-dev`
//! has them, Fedora's `glibc-static` package), and unless `EMBER_DYNAMIC_LINK` is set.
//! Otherwise the binary is linked as usual.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The start files of a static glibc PIE.
const START_FILES: [&str; 2] = ["rcrt1.o", "crtbeginS.o"];

/// The libraries rustc links a Linux glibc binary with (`-l<name>`, dynamically), each with
/// the static archives that replace it.
const LIBRARIES: [(&str, &[&str]); 7] = [
    ("gcc_s", &["libgcc_eh.a", "libgcc.a"]),
    ("util", &["libutil.a"]),
    ("rt", &["librt.a"]),
    ("pthread", &["libpthread.a"]),
    ("m", &["libm.a"]),
    ("dl", &["libdl.a"]),
    ("c", &["libc.a", "libgcc.a", "libgcc_eh.a"]),
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=EMBER_DYNAMIC_LINK");
    println!("cargo:rerun-if-env-changed=CC");
    let var = |k: &str| env::var(k).unwrap_or_default();
    let already_static = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("CARGO_CFG_TARGET_ARCH") != "x86_64"
        || var("HOST") != var("TARGET")
        || already_static
        || env::var_os("EMBER_DYNAMIC_LINK").is_some()
    {
        return;
    }
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    // The full path of a file the C compiler links, if it has one.
    let path_of = |name: &str| {
        Command::new(&cc)
            .arg(format!("-print-file-name={name}"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|p| p.contains('/') && Path::new(p).is_file())
    };
    if !START_FILES.iter().all(|f| path_of(f).is_some()) {
        return;
    }
    // rustc names every library for dynamic linking (`-Wl,-Bdynamic -l<name>`), which would
    // find the shared objects even with `-static-pie`: in a directory searched first and
    // only by this binary's link, `lib<name>.so` is a linker script naming the static
    // archives instead (a group, so their references to each other resolve in any order).
    let dir = PathBuf::from(var("OUT_DIR")).join("static-link");
    std::fs::create_dir_all(&dir).expect("OUT_DIR is writable");
    for (name, archives) in LIBRARIES {
        let Some(paths) = archives
            .iter()
            .map(|a| path_of(a))
            .collect::<Option<Vec<_>>>()
        else {
            return;
        };
        let script = format!("GROUP({})\n", paths.join(" "));
        std::fs::write(dir.join(format!("lib{name}.so")), script).expect("OUT_DIR is writable");
    }
    println!("cargo:rustc-link-arg-bin=ember=-L{}", dir.display());
    println!("cargo:rustc-link-arg-bin=ember=-static-pie");
    // For the test that checks the binary has no dynamic loader.
    println!("cargo:rustc-env=EMBER_STATIC_LINK=1");
}
