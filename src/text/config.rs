//! The catalogue's texts for `config`; see `text` for how entries work.

use super::catalogue;

catalogue! {
    // ---------------------------------------------- a config file that cannot be used

    config_cannot_read(path, error) {
        en: "cannot read config file {path}: {error}",
        ru: "не удалось прочитать файл настроек {path}: {error}",
    }
    config_cannot_write(path, error) {
        en: "cannot write config file {path}: {error}",
        ru: "не удалось записать файл настроек {path}: {error}",
    }
    config_not_json(path, line, column, error) {
        en: "config file {path} is not valid JSON (line {line}, column {column}): {error}",
        ru: "файл настроек {path} не является корректным JSON (строка {line}, столбец {column}): {error}",
    }
    /// Why a file that is JSON is still not a config file.
    config_top_level_not_object() {
        en: "the top level must be an object {{...}}",
        ru: "на верхнем уровне должен быть объект {{...}}",
    }
    /// `expected` is one of the `expected_*` texts below.
    config_bad_value_at_line(path, line, key, expected) {
        en: "config file {path}, line {line}: key '{key}' must be {expected}",
        ru: "файл настроек {path}, строка {line}: значение ключа '{key}' должно быть {expected}",
    }
    /// The same for a value from the command line (`key` is the flag).
    config_bad_value(path, key, expected) {
        en: "config file {path}: key '{key}' must be {expected}",
        ru: "файл настроек {path}: значение ключа '{key}' должно быть {expected}",
    }

    /// `OLLAMA_HOST`, when it stands for `ollama_host`.
    config_bad_env(var, expected) {
        en: "environment variable {var} must be {expected}",
        ru: "значение переменной окружения {var} должно быть {expected}",
    }

    // ------------------------ what a key expects (after "must be"; Russian: instrumental)

    expected_string() {
        en: "a string",
        ru: "строкой",
    }
    expected_non_empty_string() {
        en: "a non-empty string",
        ru: "непустой строкой",
    }
    expected_boolean() {
        en: "true or false",
        ru: "true или false",
    }
    expected_port() {
        en: "a port number from 1 to 65535",
        ru: "номером порта от 1 до 65535",
    }
    expected_count_in_range(min, max) {
        en: "a whole number from {min} to {max}",
        ru: "целым числом от {min} до {max}",
    }
    expected_seconds() {
        en: "a number of seconds greater than 0",
        ru: "числом секунд больше 0",
    }
    expected_seconds_or_zero() {
        en: "a number of seconds, 0 or more",
        ru: "числом секунд, 0 или больше",
    }
    expected_keep_alive() {
        en: "a number of seconds or a duration string such as \"10m\"",
        ru: "числом секунд или строкой с длительностью, например \"10m\"",
    }
    expected_sell_hours() {
        en: "a list of selling windows such as [\"22:00-08:00\", \"sat 00:00-24:00\"]",
        ru: "списком окон продажи вроде [\"22:00-08:00\", \"sat 00:00-24:00\"]",
    }
    /// `entry` is the window refused, `why` the client's English reason.
    expected_sell_hours_entry(entry, why) {
        en: "a list of selling windows such as [\"22:00-08:00\", \"sat 00:00-24:00\"] (\"{entry}\": {why})",
        ru: "списком окон продажи вроде [\"22:00-08:00\", \"sat 00:00-24:00\"] (\"{entry}\": {why})",
    }
    expected_temperature() {
        en: "a temperature in °C from 40 to 110",
        ru: "температурой в °C от 40 до 110",
    }
    expected_object() {
        en: "an object {{...}}",
        ru: "объектом {{...}}",
    }
    /// `why` is one of the `cli::ollama_url_` texts.
    expected_ollama_address(why) {
        en: "an Ollama address such as \"localhost\", \"gpu2:11434\" or \"https://gpu2.example\" ({why})",
        ru: "адресом Ollama вроде \"localhost\", \"gpu2:11434\" или \"https://gpu2.example\" ({why})",
    }
    expected_language() {
        en: "\"en\" or \"ru\"",
        ru: "\"en\" или \"ru\"",
    }
    expected_language_or_auto() {
        en: "\"auto\", \"en\" or \"ru\"",
        ru: "\"auto\", \"en\" или \"ru\"",
    }

    // `ollama_hosts`: the list (too long, or an entry neither an address nor an
    // object with one), then each way an entry can be wrong.
    expected_hosts() {
        en: "a list of 1 to 16 Ollama addresses: strings such as \"gpu2:11434\" or objects \
             {{\"url\": \"...\", \"max_parallel\": N, \"name\": \"...\"}}",
        ru: "списком из 1–16 адресов Ollama: строк вроде \"gpu2:11434\" или объектов \
             {{\"url\": \"...\", \"max_parallel\": N, \"name\": \"...\"}}",
    }
    expected_hosts_keys() {
        en: "a list whose objects have only the keys \"url\", \"max_parallel\", \"name\", \
             \"api\", \"model\", \"options\", \"api_key_file\", \"include_usage\" and \
             \"send_reasoning\"",
        ru: "списком, в объектах которого есть только ключи \"url\", \"max_parallel\", \
             \"name\", \"api\", \"model\", \"options\", \"api_key_file\", \"include_usage\" \
             и \"send_reasoning\"",
    }
    expected_hosts_api() {
        en: "a list whose \"api\" values are \"ollama\" or \"openai\"",
        ru: "списком, в котором значения \"api\" — \"ollama\" или \"openai\"",
    }
    /// `key` is `model` or `api_key_file`.
    expected_hosts_string(key) {
        en: "a list whose \"{key}\" values are non-empty strings",
        ru: "списком, в котором значения \"{key}\" — непустые строки",
    }
    /// `key` is `include_usage` or `send_reasoning`.
    expected_hosts_switch(key) {
        en: "a list whose \"{key}\" values are true or false",
        ru: "списком, в котором значения \"{key}\" — true или false",
    }
    expected_hosts_options() {
        en: "a list whose \"options\" values are objects {{...}}",
        ru: "списком, в котором значения \"options\" — объекты {{...}}",
    }
    expected_hosts_openai_model() {
        en: "a list in which every \"api\": \"openai\" entry names its \"model\" (as the \
             server calls it: see its GET /v1/models)",
        ru: "списком, в котором каждая запись с \"api\": \"openai\" называет свою \"model\" \
             (так, как её называет сервер: см. его GET /v1/models)",
    }
    expected_hosts_openai_only() {
        en: "a list in which \"api_key_file\", \"include_usage\" and \"send_reasoning\" are \
             set only on \"api\": \"openai\" entries",
        ru: "списком, в котором \"api_key_file\", \"include_usage\" и \"send_reasoning\" \
             заданы только у записей с \"api\": \"openai\"",
    }
    /// `why` is one of the `cli::ollama_url_` texts, or `hosts_url_length`.
    expected_hosts_url(why) {
        en: "a list of Ollama addresses such as \"gpu2\", \"gpu2:11434\" or \
             \"https://gpu2.example\" ({why})",
        ru: "списком адресов Ollama вроде \"gpu2\", \"gpu2:11434\" или \
             \"https://gpu2.example\" ({why})",
    }
    hosts_url_length() {
        en: "not empty, at most 256 characters",
        ru: "непустых, не длиннее 256 символов",
    }
    expected_hosts_max_parallel() {
        en: "a list whose \"max_parallel\" values are whole numbers from 1 to 256",
        ru: "списком, в котором значения \"max_parallel\" — целые числа от 1 до 256",
    }
    expected_hosts_name() {
        en: "a list whose names are 1 to 64 Latin letters, digits, '.', '_', '-' or ':'",
        ru: "списком, в котором имена состоят из 1–64 латинских букв, цифр, '.', '_', '-' или ':'",
    }
    /// Two entries without a `name` get one each from their address.
    expected_hosts_unique() {
        en: "a list of backends with different names (two entries for the same address \
             need a \"name\" each)",
        ru: "списком серверов с разными именами (двум записям с одним адресом нужно \
             по \"name\")",
    }

    // ------------------------------- values without one (`--show-config`, `--help`)

    /// Keep the parentheses: they mark a description, not a value.
    shown_off() {
        en: "(off)",
        ru: "(выключено)",
    }
    shown_every_hour() {
        en: "(every hour)",
        ru: "(в любое время)",
    }
    shown_not_set() {
        en: "(not set)",
        ru: "(не задан)",
    }
    /// Keep the parentheses: they mark a description, not a value.
    shown_ollamas_default() {
        en: "(Ollama's default)",
        ru: "(по умолчанию Ollama)",
    }
}
