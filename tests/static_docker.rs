//! The release binary the Dockerfile ships: statically linked (no program
//! interpreter, no shared libraries), runs with an empty environment, and
//! gives the same report as the test build. Where a Docker daemon answers,
//! the image is built from the Dockerfile (no registry needed: `FROM
//! scratch`) and run on a recorded pair; elsewhere that part says it skipped.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose
#![allow(clippy::print_stderr)] // the skip notice is for the person running the tests

use object::read::elf::{Dyn, ElfFile64, ProgramHeader};
use object::{elf, Endianness};
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Builds the static release binary the way the Dockerfile says, in its own
/// target directory (the test build's directory is locked by `cargo test`).
fn static_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target_dir = root.join("target").join("static");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .args(["build", "--release", "--locked", "--target", TARGET])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "static build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target_dir.join(TARGET).join("release").join("wgtrace")
}

fn testdata(rel: &str) -> String {
    format!("{}/testdata/{rel}", env!("CARGO_MANIFEST_DIR"))
}

fn json_report(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    // Exit 1: the pair has problems (the mtu-blackhole recording).
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn docker_answers() -> Result<(), String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
    {
        Err(e) => Err(format!("no docker command ({e})")),
        Ok(o) if !o.status.success() => Err(format!(
            "no Docker daemon ({})",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => Ok(()),
    }
}

#[test]
fn static_binary_and_docker_image() {
    if !cfg!(all(
        target_os = "linux",
        target_arch = "x86_64",
        target_env = "gnu"
    )) {
        eprintln!("static binary test skipped: the Dockerfile is for {TARGET}");
        return;
    }
    let bin = static_binary();

    let data = std::fs::read(&bin).unwrap();
    let file = ElfFile64::<Endianness>::parse(&*data).unwrap();
    let endian = file.endian();
    for ph in file.elf_program_headers() {
        let kind = ph.p_type(endian);
        assert_ne!(
            kind,
            elf::PT_INTERP,
            "the binary asks for a program interpreter"
        );
    }
    let needed = file
        .elf_section_table()
        .dynamic(endian, &*data)
        .unwrap()
        .map(|(entries, _)| {
            entries
                .iter()
                .filter(|d| d.d_tag(endian) == elf::DT_NEEDED)
                .count()
        })
        .unwrap_or(0);
    assert_eq!(needed, 0, "the binary needs shared libraries");

    let (a, b) = (
        testdata("mtu-blackhole/vps.pcap"),
        testdata("mtu-blackhole/laptop.pcap"),
    );
    let reference = json_report(
        Command::new(env!("CARGO_BIN_EXE_wgtrace")).args(["analyze", &a, &b, "-f", "json"]),
    );
    let from_static = json_report(
        Command::new(&bin)
            .env_clear()
            .args(["analyze", &a, &b, "-f", "json"]),
    );
    assert_eq!(
        from_static, reference,
        "the static binary reports differently"
    );

    if let Err(why) = docker_answers() {
        eprintln!("docker image test skipped: {why}");
        assert!(
            std::env::var_os("WGTRACE_REQUIRE_DOCKER").is_none(),
            "WGTRACE_REQUIRE_DOCKER is set but {why}"
        );
        return;
    }
    // The build context holds the Dockerfile's one input at its usual path.
    let ctx = tempfile::tempdir().unwrap();
    let dest = ctx.path().join("target").join(TARGET).join("release");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::copy(&bin, dest.join("wgtrace")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join(".dockerignore"), ctx.path().join(".dockerignore")).unwrap();
    let tag = format!("wgtrace-test:{}", std::process::id());
    let build = Command::new("docker")
        .args(["build", "-q", "-t", &tag, "-f"])
        .arg(root.join("Dockerfile"))
        .arg(ctx.path())
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "docker build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let mount = format!("{}:/data:ro", testdata(""));
    let in_docker = json_report(Command::new("docker").args([
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &mount,
        &tag,
        "analyze",
        "/data/mtu-blackhole/vps.pcap",
        "/data/mtu-blackhole/laptop.pcap",
        "-f",
        "json",
    ]));
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
    // Paths differ inside the container; everything else is the same report.
    let host_dir = testdata("mtu-blackhole/");
    assert_eq!(
        in_docker.replace("/data/mtu-blackhole/", &host_dir),
        reference,
        "the image reports differently"
    );
}
