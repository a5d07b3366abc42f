//! The catalogue's texts for the command line: `--help`, usage errors, the
//! hub URL's and addresses' errors, `--show-config`; see `text` for how
//! entries work.
//!
//! A help text's line break continues it in the help's second column (the
//! help lays out the columns itself, so that they line up in every
//! language); flag names and placeholders (`PATH`, `PORT`) stay as they are.

use super::catalogue;

catalogue! {
    // ------------------------------------------------ --help: the sections

    help_about() {
        en: "Sells this box's local Ollama on the marketplace hub: keeps one outbound\n\
             WebSocket to the hub, runs buyers' prompts on Ollama, streams answers back.",
        ru: "Продаёт локальную Ollama этой машины на хабе маркетплейса: держит одно\n\
             исходящее WebSocket-соединение с хабом, выполняет запросы покупателей\n\
             в Ollama и передаёт ответы обратно.",
    }
    help_usage_heading() {
        en: "USAGE:",
        ru: "ИСПОЛЬЗОВАНИЕ:",
    }
    /// The usage line, after the program's name.
    help_usage_options() {
        en: "[OPTIONS]",
        ru: "[ПАРАМЕТРЫ]",
    }
    help_saved_heading() {
        en: "OPTIONS (saved to the config file):",
        ru: "ПАРАМЕТРЫ (сохраняются в файл настроек):",
    }
    help_run_heading() {
        en: "OPTIONS (this run only):",
        ru: "ПАРАМЕТРЫ (только для этого запуска):",
    }
    help_modes_heading() {
        en: "MODES:",
        ru: "РЕЖИМЫ:",
    }
    help_files_heading() {
        en: "FILES:",
        ru: "ФАЙЛЫ:",
    }
    help_environment_heading() {
        en: "ENVIRONMENT:",
        ru: "ПЕРЕМЕННЫЕ ОКРУЖЕНИЯ:",
    }
    help_precedence() {
        en: "Precedence: command line, then environment, then config file, then default.",
        ru: "Приоритет: командная строка, затем окружение, затем файл настроек,\n\
             затем значение по умолчанию.",
    }
    help_exit_status_heading() {
        en: "EXIT STATUS:",
        ru: "КОДЫ ВЫХОДА:",
    }

    // ------------------------------------------ --help: the saved options

    help_force_token() {
        en: "Set the hub token. Prefer --force-token - (reads\n\
             it from standard input) or --token-file: a TOKEN\n\
             typed here is visible to every local user (ps)\n\
             for the whole run",
        ru: "Задать токен хаба. Лучше --force-token - (читает\n\
             его со стандартного ввода) или --token-file:\n\
             TOKEN, набранный здесь, виден всем локальным\n\
             пользователям (ps) всё время работы",
    }
    help_token_file() {
        en: "Set the hub token from the first line of PATH",
        ru: "Задать токен хаба из первой строки файла PATH",
    }
    help_force_model() {
        en: "Set the Ollama model",
        ru: "Задать модель Ollama",
    }
    help_ollama_host() {
        en: "Set Ollama's host",
        ru: "Задать хост Ollama",
    }
    help_ollama_port() {
        en: "Set Ollama's port",
        ru: "Задать порт Ollama",
    }
    help_stream() {
        en: "Answer in pieces as Ollama produces them",
        ru: "Отвечать частями, как их выдаёт Ollama",
    }
    help_no_stream() {
        en: "Answer in one frame",
        ru: "Отвечать одним кадром",
    }
    /// Follows a flag's help: the value its key has by default.
    help_default_value(value) {
        en: "[default: {value}]",
        ru: "[по умолчанию: {value}]",
    }
    /// Follows the help of the switch that matches the default.
    help_default_switch() {
        en: "[default]",
        ru: "[по умолчанию]",
    }

    // ---------------------------------------- --help: the run-only options

    help_server(url) {
        en: "Hub URL [default: {url}];\n\
             ws:// only for loopback hosts",
        ru: "URL хаба; ws:// только для адресов loopback\n\
             [по умолчанию: {url}]",
    }
    help_port() {
        en: "Port of the default hub URL",
        ru: "Порт стандартного URL хаба",
    }
    help_ca_file() {
        en: "Also trust this CA certificate (PEM) for the hub\n\
             and an https:// Ollama",
        ru: "Доверять также этому сертификату CA (PEM) для\n\
             хаба и для Ollama по https://",
    }
    help_config() {
        en: "Use this config file (one per GPU, say)",
        ru: "Использовать этот файл настроек (например, свой\n\
             для каждой GPU)",
    }
    help_debug() {
        en: "Show debug messages on the console",
        ru: "Показывать отладочные сообщения в консоли",
    }

    // ------------------------------------------------- --help: the modes

    /// The first column of the mode with no flag.
    help_mode_none_label() {
        en: "(none)",
        ru: "(без режима)",
    }
    help_mode_none() {
        en: "Serve buyers until stopped (SIGTERM, SIGHUP or\n\
             Ctrl+C: running answers get time to finish)",
        ru: "Обслуживать покупателей до остановки (SIGTERM,\n\
             SIGHUP или Ctrl+C: начатые ответы успевают\n\
             завершиться)",
    }
    help_test() {
        en: "Type prompts; answers show here and go to the hub\n\
             with messageId -1",
        ru: "Вводить запросы вручную; ответы выводятся здесь\n\
             и уходят на хаб с messageId -1",
    }
    help_check() {
        en: "Check config, Ollama, model and hub; exit 0 or 1",
        ru: "Проверить настройки, Ollama, модель и хаб;\n\
             код выхода 0 или 1",
    }
    help_show_config() {
        en: "Show every setting and where it came from",
        ru: "Показать все настройки и откуда они взялись",
    }
    help_reset_config() {
        en: "Ask everything again, at a terminal only; the old\n\
             config file is kept as .bak until new settings\n\
             are saved (and put back if none are)",
        ru: "Задать все вопросы заново (только в терминале);\n\
             старый файл настроек хранится как .bak, пока не\n\
             сохранены новые настройки (и возвращается, если\n\
             они так и не сохранены)",
    }
    help_help() {
        en: "Show this help",
        ru: "Показать эту справку",
    }
    help_version() {
        en: "Show the version",
        ru: "Показать версию",
    }

    // ------------------------------------------------- --help: the files

    help_file_config_label() {
        en: "config",
        ru: "настройки",
    }
    help_file_log_label() {
        en: "log",
        ru: "журнал",
    }
    help_file_log(path) {
        en: "{path}\n\
             (rotated by size; every level, with timestamps)",
        ru: "{path}\n\
             (ротация по размеру; все уровни, с метками времени)",
    }
    /// In place of the paths when there is no home directory to put them in.
    help_no_home_directory() {
        en: "(no home directory)",
        ru: "(нет домашнего каталога)",
    }

    // -------------------------------------------- --help: the environment

    help_env_token() {
        en: "The hub token (beats the config file)",
        ru: "Токен хаба (важнее файла настроек)",
    }
    help_env_ollama_host() {
        en: "Ollama's address, in any form Ollama accepts, used\n\
             when the config file sets none",
        ru: "Адрес Ollama в любой форме, которую понимает Ollama;\n\
             используется, если в файле настроек адреса нет",
    }
    help_env_ssl_cert_file() {
        en: "An extra CA certificate (PEM) to trust for the hub\n\
             and an https:// Ollama",
        ru: "Дополнительный сертификат CA (PEM), которому\n\
             доверять для хаба и для Ollama по https://",
    }
    help_env_locale() {
        en: "The terminal's language (ru... = Russian, else\n\
             English), from the first one set, when the config\n\
             file's language key is auto (the default)",
        ru: "Язык терминала (ru... = русский, иначе английский)\n\
             по первой заданной переменной, если ключ language\n\
             в файле настроек равен auto (по умолчанию)",
    }

    // ------------------------------------------- --help: the exit statuses

    help_exit_0() {
        en: "normal end (also after SIGTERM/SIGHUP/Ctrl+C)",
        ru: "обычное завершение (также после SIGTERM/SIGHUP/Ctrl+C)",
    }
    help_exit_1() {
        en: "--check found a problem; --status: running, not serving",
        ru: "--check нашёл проблему; --status: работает, но не продаёт",
    }
    help_exit_2() {
        en: "usage error",
        ru: "ошибка в командной строке",
    }
    help_exit_71() {
        en: "a thread could not be started (the system is out of resources)",
        ru: "не удалось запустить поток (системе не хватает ресурсов)",
    }
    help_exit_78() {
        en: "configuration missing or invalid",
        ru: "настройки отсутствуют или неверны",
    }

    // ------------------------------------------------------ usage errors

    /// After a usage error.
    usage_hint() {
        en: "Try 'ollama-proxy-client --help' for more information.",
        ru: "Справка: 'ollama-proxy-client --help'.",
    }
    usage_invalid_option(option) {
        en: "invalid option '{option}'",
        ru: "неизвестный параметр '{option}'",
    }
    usage_missing_value(option) {
        en: "missing argument for option '{option}'",
        ru: "не указано значение параметра '{option}'",
    }
    usage_missing_argument() {
        en: "missing argument",
        ru: "не хватает аргумента",
    }
    usage_unexpected_argument() {
        en: "unexpected argument: this program takes only options",
        ru: "лишний аргумент: программа принимает только параметры",
    }
    usage_takes_no_value(option) {
        en: "option '{option}' takes no value",
        ru: "параметр '{option}' не принимает значения",
    }
    usage_not_utf8() {
        en: "an argument is not valid UTF-8",
        ru: "аргумент не в кодировке UTF-8",
    }
    usage_unreadable() {
        en: "cannot read the command line",
        ru: "не удалось разобрать командную строку",
    }
    usage_together(first, second) {
        en: "{first} and {second} cannot be used together",
        ru: "{first} и {second} нельзя использовать вместе",
    }
    /// `flag` was followed by `next`, one of this program's flags.
    usage_value_is_a_flag(flag, next) {
        en: "{flag} needs a value; '{next}' looks like another option \
             (write {flag}=VALUE if you mean it)",
        ru: "{flag}: нужно значение; '{next}' похоже на другой параметр \
             (если это значение, напишите {flag}=VALUE)",
    }
    /// Like `usage_value_is_a_flag`, without repeating what followed.
    usage_value_looks_like_a_flag(flag) {
        en: "{flag} needs a value; the next argument looks like another option \
             (write {flag}=VALUE if you mean it)",
        ru: "{flag}: нужно значение; следующий аргумент похож на другой параметр \
             (если это значение, напишите {flag}=VALUE)",
    }
    usage_needs_utf8(flag) {
        en: "{flag} needs UTF-8 text",
        ru: "{flag}: значение должно быть текстом в UTF-8",
    }
    usage_needs_non_empty(flag) {
        en: "{flag} needs a non-empty value",
        ru: "{flag}: значение не может быть пустым",
    }
    usage_needs_port(flag) {
        en: "{flag} needs a port from 1 to 65535",
        ru: "{flag}: нужен порт от 1 до 65535",
    }
    usage_needs_file_name(flag) {
        en: "{flag} needs a file name",
        ru: "{flag}: нужно имя файла",
    }
    home_directory_not_found() {
        en: "cannot find the home directory; use --config PATH",
        ru: "не удалось найти домашний каталог; укажите --config PATH",
    }

    // -------------------------------------------- the hub URL (--server)

    hub_url_not_websocket() {
        en: "--server needs a URL starting with wss:// (or ws:// for loopback)",
        ru: "--server: нужен URL, начинающийся с wss:// (или ws:// для loopback)",
    }
    hub_url_user_info() {
        en: "hub URL must not contain user information",
        ru: "URL хаба не должен содержать имя пользователя (часть до @)",
    }
    /// `problem` is one of the `address_` texts.
    hub_url_address(problem) {
        en: "hub URL has {problem}",
        ru: "URL хаба: {problem}",
    }
    hub_url_no_host() {
        en: "hub URL has no host",
        ru: "в URL хаба нет хоста",
    }
    hub_url_bad_port(port) {
        en: "hub URL has a bad port: {port}",
        ru: "в URL хаба неверный порт: {port}",
    }
    hub_url_plain_ws(host) {
        en: "plain ws:// is allowed only to a loopback host (127.0.0.0/8, ::1, localhost), \
             not {host}; use wss://",
        ru: "незашифрованный ws:// разрешён только для адресов loopback (127.0.0.0/8, ::1, \
             localhost), а не для {host}; используйте wss://",
    }

    // ------------------------- a host and port that cannot be split

    address_unclosed_bracket() {
        en: "an unclosed [ in its host",
        ru: "незакрытая [ в имени хоста",
    }
    address_after_bracket() {
        en: "something other than :port after the ] of its host",
        ru: "после ] в имени хоста допустим только :порт",
    }
    address_stray_bracket() {
        en: "a [ or ] inside its host",
        ru: "[ или ] внутри имени хоста",
    }
    address_too_many_colons() {
        en: "more than one : in its host (an IPv6 address goes in brackets: [::1]:port)",
        ru: "больше одного : в имени хоста (адрес IPv6 пишется в скобках: [::1]:порт)",
    }

    // Why an Ollama address is refused, in parentheses after what the key takes.
    ollama_url_characters() {
        en: "no spaces, quotes, control characters or characters beyond ASCII",
        ru: "без пробелов, кавычек, управляющих символов и символов вне ASCII",
    }
    ollama_url_query() {
        en: "no query ? or fragment #",
        ru: "без запроса ? и фрагмента #",
    }
    ollama_url_scheme() {
        en: "only http:// or https://",
        ru: "только http:// или https://",
    }
    ollama_url_user() {
        en: "a user and password before the @ with / @ ? # [ ] percent-encoded",
        ru: "пользователь и пароль перед @, где / @ ? # [ ] закодированы через %",
    }

    // ---------------------------------------------------- --show-config

    show_config_file() {
        en: "config file",
        ru: "файл настроек",
    }
    show_not_created_yet() {
        en: "(not created yet)",
        ru: "(ещё не создан)",
    }
    show_log_file() {
        en: "log file",
        ru: "журнал",
    }
    show_hub_url() {
        en: "hub URL",
        ru: "URL хаба",
    }
    show_ollama_url() {
        en: "Ollama URL",
        ru: "URL Ollama",
    }
    /// The label of the first of the backends `ollama_hosts` lists; the
    /// others follow on lines of their own under it.
    show_ollama_backends() {
        en: "Ollama backends",
        ru: "серверы Ollama",
    }
    /// One of those backends: its name, its base URL, its `max_parallel`.
    show_backend(name, url, max_parallel) {
        en: "{name} = {url} (max_parallel {max_parallel})",
        ru: "{name} = {url} (одновременно max_parallel {max_parallel})",
    }
    /// After the source of `ollama_host` and `ollama_port` when
    /// `ollama_hosts` replaces them.
    show_unused_with_hosts(source) {
        en: "{source}; not used: ollama_hosts is set",
        ru: "{source}; не используется: задан ollama_hosts",
    }

    // ---------------------- where a setting came from (--show-config)

    source_flag(flag) {
        en: "command line {flag}",
        ru: "командная строка, {flag}",
    }
    source_env(var) {
        en: "environment {var}",
        ru: "переменная окружения {var}",
    }
    source_file() {
        en: "config file",
        ru: "файл настроек",
    }
    source_prompt() {
        en: "first-run answer",
        ru: "ответ при первом запуске",
    }
    source_default() {
        en: "default",
        ru: "по умолчанию",
    }
}
