//! Compiles `csrc/ward_av.c` against the installed FFmpeg headers (Debian's `libavcodec-dev`,
//! `libavformat-dev`, `libavutil-dev`), found with pkg-config. Nothing is linked: the worker
//! loads the libraries with `dlopen` when it starts. Without the headers the crate builds
//! without the worker (`ward_av::available()` is false) and ward decodes with the ffmpeg
//! program only.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(ward_av)");
    println!("cargo::rerun-if-changed=csrc/ward_av.c");
    println!("cargo::rerun-if-env-changed=WARD_NO_AV");
    if std::env::var_os("WARD_NO_AV").is_some() {
        println!("cargo::warning=WARD_NO_AV set: building without the libav decoding worker");
        return;
    }
    let mut includes = Vec::new();
    for lib in ["libavformat", "libavcodec", "libavutil"] {
        match pkg_config::Config::new()
            .cargo_metadata(false)
            .env_metadata(false)
            .probe(lib)
        {
            Ok(found) => includes.extend(found.include_paths),
            Err(e) => {
                println!(
                    "cargo::warning={lib} headers not found ({e}); building without the libav \
                     decoding worker (install libavformat-dev libavcodec-dev libavutil-dev pkg-config)"
                );
                return;
            }
        }
    }
    cc::Build::new()
        .file("csrc/ward_av.c")
        .includes(includes)
        .flag_if_supported("-Wall")
        .flag_if_supported("-Wextra")
        .flag_if_supported("-Wno-deprecated-declarations")
        .compile("ward_av");
    println!("cargo::rustc-link-lib=dl");
    println!("cargo::rustc-cfg=ward_av");
}
