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
