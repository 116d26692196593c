//! The data folder: resolution order and choosing another one for the next start.

use lectern::Paths;
use lectern::paths::Config;

#[test]
fn a_chosen_data_folder_is_remembered_outside_it_and_keeps_the_models_where_they_are() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config_dir = tmp.path().join("config");
    let current = Paths {
        data_dir: tmp.path().join("old"),
        models_dir: tmp.path().join("models"),
    };

    // Relative paths and files are refused, naming the path; nothing is written.
    let err = current
        .choose_data_dir("relative/dir".as_ref(), &config_dir)
        .expect_err("relative");
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("relative/dir"));
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let err = current
        .choose_data_dir(&file, &config_dir)
        .expect_err("a file");
    assert!(err.to_string().contains("not a folder"), "{err}");
    assert_eq!(Config::load(&config_dir), Config::default());

    // A new folder is created; the config names it and pins the models folder.
    let new_dir = tmp.path().join("new/lectern");
    let choice = current
        .choose_data_dir(&new_dir, &config_dir)
        .expect("choose");
    assert!(new_dir.is_dir());
    assert!(!choice.existing_library);
    let config = Config::load(&config_dir);
    assert_eq!(config.data_dir.as_deref(), Some(new_dir.as_path()));
    assert_eq!(
        config.models_dir.as_deref(),
        Some(current.models_dir.as_path())
    );
    if std::env::var_os("LECTERN_DATA_DIR").is_none() {
        assert_eq!(Paths::resolve_with(None, &config).data_dir, new_dir);
    }
    if std::env::var_os("LECTERN_MODELS_DIR").is_none() {
        assert_eq!(
            Paths::resolve_with(None, &config).models_dir,
            current.models_dir
        );
    }
    // An explicit folder (the CLI's --data-dir) always wins.
    assert_eq!(
        Paths::resolve_with(Some(tmp.path().join("x")), &config).data_dir,
        tmp.path().join("x")
    );

    // Choosing a folder with a library in it says so; a damaged config reads as empty.
    std::fs::write(current.data_dir.join("lectern.db"), b"").unwrap_or_else(|_| {
        std::fs::create_dir_all(&current.data_dir).expect("mkdir");
        std::fs::write(current.data_dir.join("lectern.db"), b"").expect("write");
    });
    let back = current
        .choose_data_dir(&current.data_dir, &config_dir)
        .expect("choose back");
    assert!(back.existing_library);
    std::fs::write(config_dir.join("config.json"), b"{not json").expect("write");
    assert_eq!(Config::load(&config_dir), Config::default());
}

/// Paths from the UI: relative, empty or NUL-bearing ones are refused, `..` and symbolic links
/// are resolved to where the file really is, and a missing file is an error naming it.
#[test]
fn paths_from_the_ui_are_checked_and_canonicalised() {
    let dir = tempfile::tempdir().expect("temp dir");
    let real = std::fs::canonicalize(dir.path())
        .expect("canonical")
        .join("notes.txt");
    std::fs::write(&real, "text").expect("write");
    let link = dir.path().join("link.txt");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let dotted = dir.path().join("sub/../notes.txt");
    std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");

    for raw in [link.to_str(), dotted.to_str()].into_iter().flatten() {
        assert_eq!(lectern::paths::from_ui(raw).expect(raw), real, "{raw}");
    }
    for (raw, reason) in [
        ("notes.txt", "not an absolute path"),
        ("../../etc/passwd", "not an absolute path"),
        ("  ", "an empty path"),
        ("/tmp/a\0b", "NUL"),
    ] {
        let e = lectern::paths::from_ui(raw).expect_err(raw);
        assert_eq!(e.code(), "invalid_input", "{raw}");
        assert!(e.to_string().contains(reason), "{raw}: {e}");
    }
    let missing = dir.path().join("gone.pdf");
    let e = lectern::paths::from_ui(missing.to_str().expect("utf-8")).expect_err("missing");
    assert!(e.to_string().contains("gone.pdf"), "{e}");
}
