//! The catalogue's texts for starting up: the first-run questions, the
//! token, `--reset-config`, saving settings, test mode, stopping; see
//! `text` for how entries work.

use super::catalogue;

catalogue! {
    cannot_start_thread(name, error) {
        en: "cannot start the {name} thread: {error}",
        ru: "не удалось запустить поток {name}: {error}",
    }

    // ------------------------------- the token from standard input or a file

    /// Shown at a terminal, with echo off; the answer follows on the line.
    token_prompt() {
        en: "Hub token (input hidden): ",
        ru: "Введите токен хаба (ввод скрыт): ",
    }
    /// `why` is one of the `token_input_*` texts.
    token_stdin_unusable(why) {
        en: "--force-token - reads the token from standard input, which {why}",
        ru: "--force-token - читает токен со стандартного ввода, а он {why}",
    }
    /// `why` is `token_input_unreadable`.
    token_file_unusable(path, why) {
        en: "the token file {path} {why}",
        ru: "файл с токеном {path} {why}",
    }
    /// A backend's `api_key_file`; `why` is one of the `token_input_*` texts.
    api_key_file_unusable(path, why) {
        en: "the API key file {path} {why}",
        ru: "файл с ключом API {path} {why}",
    }
    /// `why` is one of the other `token_input_*` texts.
    api_key_file_has_no_key(path, why) {
        en: "the API key file {path} {why} (its first line must be the backend's key)",
        ru: "файл с ключом API {path} {why} (его первой строкой должен быть ключ сервера)",
    }
    /// `why` is one of the other `token_input_*` texts.
    token_file_has_no_token(path, why) {
        en: "the token file {path} {why} (its first line must be the hub token)",
        ru: "файл с токеном {path} {why} (его первой строкой должен быть токен хаба)",
    }
    // What is wrong with the input ("standard input, which ...", "the token
    // file PATH ..."; Russian: "он ...", "файл ...", both masculine).
    token_input_empty() {
        en: "is empty",
        ru: "пуст",
    }
    token_input_starts_blank() {
        en: "starts with an empty line",
        ru: "начинается с пустой строки",
    }
    token_input_line_too_long(max) {
        en: "has a first line longer than {max} {max|byte|bytes}",
        ru: "начинается со строки длиннее {max} {max|байта|байт|байт}",
    }
    token_input_not_text() {
        en: "has a first line that is not UTF-8 text",
        ru: "начинается со строки, которая не является текстом в UTF-8",
    }
    token_input_unreadable(error) {
        en: "cannot be read: {error}",
        ru: "недоступен для чтения: {error}",
    }

    // ------------------------------------------------------- --reset-config

    reset_needs_terminal(path) {
        en: "--reset-config asks the first-run questions again, which needs a terminal, \
             and standard input is not one: {path} is left as it is. Run it at a \
             terminal, or edit or delete the file by hand",
        ru: "--reset-config заново задаёт вопросы первого запуска, для этого нужен \
             терминал, а стандартный ввод не терминал: файл {path} оставлен как есть. \
             Запустите команду в терминале или исправьте либо удалите файл вручную",
    }
    reset_no_config_file(path) {
        en: "There is no config file {path} to delete",
        ru: "Файла настроек {path} нет, удалять нечего",
    }
    reset_cannot_move_aside(path, backup, error) {
        en: "cannot move {path} aside to {backup}: {error}",
        ru: "не удалось переименовать {path} в {backup}: {error}",
    }
    reset_cannot_make_private(backup, error) {
        en: "(cannot make {backup} private: {error})",
        ru: "(не удалось закрыть доступ к {backup} для других пользователей: {error})",
    }
    reset_deleting(path, backup) {
        en: "Deleting the config file {path} (the old one is kept as {backup} until the new \
             settings are saved)",
        ru: "Файл настроек {path} удаляется (старый хранится как {backup}, пока не будут \
             сохранены новые настройки)",
    }
    reset_put_back(path) {
        en: "Nothing new was saved: the old config file is back at {path}",
        ru: "Ничего нового не сохранено: старый файл настроек возвращён в {path}",
    }
    reset_not_put_back(error, backup, path) {
        en: "Nothing new was saved, and the old config file could not be put back ({error}): \
             it is {backup}; rename it to {path} to use it again",
        ru: "Ничего нового не сохранено, а старый файл настроек не удалось вернуть на место \
             ({error}): он лежит в {backup}; чтобы снова им пользоваться, переименуйте его \
             в {path}",
    }

    // ----------------------------------------------- settings and the first run

    no_token_and_no_terminal(path) {
        en: "no hub token in {path} and no terminal to ask for one: save it to the \
             config with --token-file PATH (the file's first line) or --force-token - \
             (one line of standard input), or set the OLLAMA_PROXY_TOKEN \
             environment variable",
        ru: "в {path} нет токена хаба, а спросить его негде (нет терминала): сохраните \
             токен в файл настроек с помощью --token-file PATH (первая строка файла) или \
             --force-token - (одна строка со стандартного ввода) либо задайте \
             переменную окружения OLLAMA_PROXY_TOKEN",
    }
    settings_saved(path) {
        en: "Settings saved to {path}",
        ru: "Настройки сохранены в {path}",
    }
    first_run_intro(path) {
        en: "First run: a few settings are missing. They will be saved to {path}",
        ru: "Первый запуск: не хватает нескольких настроек. Они будут сохранены в {path}",
    }
    /// `default` is the answer an empty line gives.
    first_run_question(question, default) {
        en: "{question} [{default}]: ",
        ru: "{question} [{default}]: ",
    }
    ask_ollama_host() {
        en: "Ollama host",
        ru: "Введите адрес (хост) Ollama",
    }
    ask_ollama_port() {
        en: "Ollama port",
        ru: "Введите порт Ollama",
    }
    ask_model_number_or_name() {
        en: "Model (number or name)",
        ru: "Выберите модель (номер или название)",
    }
    ask_model() {
        en: "Model",
        ru: "Введите название модели Ollama",
    }
    ask_stream_mode() {
        en: "Stream answers piece by piece (y/n)",
        ru: "Отдавать ответы по частям (y/n)",
    }
    token_cannot_be_empty() {
        en: "The token cannot be empty.",
        ru: "Токен не может быть пустым.",
    }
    port_is_a_number() {
        en: "A port is a number from 1 to 65535.",
        ru: "Порт — это число от 1 до 65535.",
    }
    models_installed() {
        en: "Models installed in Ollama:",
        ru: "Модели, установленные в Ollama:",
    }
    no_models_installed() {
        en: "Ollama has no models installed yet (install one with: ollama pull NAME).",
        ru: "В Ollama пока не установлено ни одной модели (установите: ollama pull НАЗВАНИЕ).",
    }
    cannot_list_models(error, model) {
        en: "Cannot ask Ollama for its models ({error}); offering {model}.",
        ru: "Не удалось получить от Ollama список моделей ({error}); предлагается {model}.",
    }
    answer_y_or_n() {
        en: "Please answer y or n.",
        ru: "Ответьте y (да) или n (нет).",
    }
    /// `expected` is one of the `config::expected_*` texts.
    answer_must_be(key, expected) {
        en: "the answer for {key} must be {expected}",
        ru: "ответ для {key} должен быть {expected}",
    }
    first_run_input_ended() {
        en: "the first-run questions need answers, but the input ended",
        ru: "на вопросы первого запуска нужно ответить, а ввод закончился",
    }

    // ------------------------------------------------------------- stopping

    /// At the terminal in test mode; the log file gets it in English.
    stopping_on_signal(signal, grace) {
        en: "{signal} received: finishing running answers (up to {grace} s)",
        ru: "Получен {signal}: ожидание завершения выполняемых ответов (не более {grace} с)",
    }
    stopping(grace) {
        en: "Stopping: finishing running answers (up to {grace} s)",
        ru: "Остановка: ожидание завершения выполняемых ответов (не более {grace} с)",
    }
    stopping_grace_over() {
        en: "grace period over: ending the answers still running",
        ru: "время ожидания вышло: оставшиеся ответы прерываются",
    }
    stopping_at_once(signal) {
        en: "second {signal}: exiting now",
        ru: "Повторный {signal}: немедленный выход",
    }
}
