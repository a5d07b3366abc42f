//! The catalogue's texts for the owner's two ways to try the client:
//! `--check` (each step's line and its fix) and test mode (`--test`); see
//! `text` for how entries work.

use super::catalogue;

catalogue! {
    // ------------------------------------------------- --check: lines

    /// The line under a failed step that says what to do.
    check_fix(fix) {
        en: "fix: {fix}",
        ru: "исправить: {fix}",
    }
    check_config_readable(path, model) {
        en: "config {path} (readable), token set, model {model}",
        ru: "файл настроек {path} (прочитан), токен задан, модель {model}",
    }
    check_config_absent(path, model) {
        en: "config {path} (absent, defaults), token set, model {model}",
        ru: "файл настроек {path} (нет, значения по умолчанию), токен задан, модель {model}",
    }
    check_config_no_token(path) {
        en: "config {path}: no hub token",
        ru: "файл настроек {path}: нет токена хаба",
    }
    check_ollama_not_checked(url, why) {
        en: "Ollama at {url}: not checked: {why}",
        ru: "Ollama по адресу {url}: не проверялась: {why}",
    }
    check_ollama_answers(version, url) {
        en: "Ollama {version} answers at {url}",
        ru: "Ollama {version} отвечает по адресу {url}",
    }
    /// An OpenAI-compatible server (llama-server, vLLM, LM Studio).
    check_openai_answers(url, models) {
        en: "the OpenAI-compatible server at {url} answers ({models} {models|model|models} listed)",
        ru: "OpenAI-совместимый сервер по адресу {url} отвечает ({models} {models|модель|модели|моделей} в списке)",
    }
    check_openai_down(url, error) {
        en: "the OpenAI-compatible server does not answer at {url}: {error}",
        ru: "OpenAI-совместимый сервер не отвечает по адресу {url}: {error}",
    }
    check_ollama_down(url, error) {
        en: "Ollama does not answer at {url}: {error}",
        ru: "Ollama не отвечает по адресу {url}: {error}",
    }
    check_model_not_checked(model) {
        en: "model '{model}': not checked",
        ru: "модель '{model}': не проверялась",
    }
    check_model_installed(model) {
        en: "model '{model}' is installed",
        ru: "модель '{model}' установлена",
    }
    check_model_missing(model, installed) {
        en: "model '{model}' is not installed (installed: {installed})",
        ru: "модель '{model}' не установлена (установлены: {installed})",
    }
    /// The list of installed models when there is none.
    check_models_unlisted(error) {
        en: "cannot list Ollama's models: {error}",
        ru: "не удалось получить список моделей Ollama: {error}",
    }
    /// A step of one backend's block when `ollama_hosts` lists several:
    /// `step` is the step's own line, `name` the backend's.
    check_on_backend(name, step) {
        en: "{name}: {step}",
        ru: "{name}: {step}",
    }
    /// The time of a one-token answer, in seconds (`0.84`).
    check_one_token(seconds) {
        en: "1-token answer in {seconds} s",
        ru: "ответ в 1 токен за {seconds} с",
    }
    check_one_token_failed(error) {
        en: "no 1-token answer: {error}",
        ru: "нет ответа в 1 токен: {error}",
    }
    check_one_token_not_checked() {
        en: "1-token answer: not checked",
        ru: "ответ в 1 токен: не проверялся",
    }
    check_hub_no_token() {
        en: "hub: not checked without a token",
        ru: "хаб: не проверялся, нет токена",
    }
    check_hub_not_checked(why) {
        en: "hub: not checked: {why}",
        ru: "хаб: не проверялся: {why}",
    }
    check_hub_ok(endpoint) {
        en: "hub {endpoint}: token accepted",
        ru: "хаб {endpoint}: токен принят",
    }
    check_hub_ok_tls(endpoint) {
        en: "hub {endpoint}: TLS verified, token accepted",
        ru: "хаб {endpoint}: TLS проверен, токен принят",
    }
    check_hub_failed(endpoint, error) {
        en: "hub {endpoint}: {error}",
        ru: "хаб {endpoint}: {error}",
    }

    // ------------------------------------------------- --check: fixes

    /// `windows` as `check_window_*` below show them, joined.
    check_hours_selling(windows, time) {
        en: "selling hours: {windows}; selling now, until {time}",
        ru: "часы продажи: {windows}; сейчас продаёт, до {time}",
    }
    check_hours_away(windows, time) {
        en: "selling hours: {windows}; not selling now, until {time}",
        ru: "часы продажи: {windows}; сейчас не продаёт, до {time}",
    }
    check_hours_always(windows) {
        en: "selling hours: {windows}; selling at every hour",
        ru: "часы продажи: {windows}; продаёт в любое время",
    }
    /// One window: `days` is `check_every_day` or weekday names.
    check_window(days, start, end) {
        en: "{days} {start}-{end}",
        ru: "{days} {start}-{end}",
    }
    check_window_next_day(days, start, end) {
        en: "{days} {start}-{end} (ends the next day)",
        ru: "{days} {start}-{end} (до следующего дня)",
    }
    check_every_day() {
        en: "every day",
        ru: "каждый день",
    }
    /// Sunday first, as C's weekdays count.
    check_weekdays() {
        en: "Sun Mon Tue Wed Thu Fri Sat",
        ru: "вс пн вт ср чт пт сб",
    }
    /// `sources` says what the guard reads (`nvidia-smi at /usr/bin/nvidia-smi`).
    check_gpu_read(sources, gpus) {
        en: "GPU guard reads {sources}: {gpus}",
        ru: "защита GPU читает {sources}: {gpus}",
    }
    /// `root` is `gpu_sysfs_root`.
    check_gpu_none(root) {
        en: "GPU guard: no GPU tool found (nvidia-smi is not on PATH, no AMD GPU under {root}): the guard stays off",
        ru: "защита GPU: не найден инструмент GPU (nvidia-smi нет в PATH, нет GPU AMD в {root}): защита выключена",
    }
    check_gpu_failed(sources, error) {
        en: "GPU guard cannot read {sources}: {error}",
        ru: "защита GPU не может прочитать {sources}: {error}",
    }
    fix_gpu_tool() {
        en: "check that nvidia-smi runs for the user the client runs as, or set \"gpu_guard\": false",
        ru: "проверьте, что nvidia-smi запускается от пользователя клиента, или задайте \"gpu_guard\": false",
    }
    fix_config_unusable(path) {
        en: "correct or delete {path} (--reset-config)",
        ru: "исправьте или удалите {path} (--reset-config)",
    }
    fix_config_unsaved() {
        en: "make its folder writable by this user, or choose another file with --config PATH",
        ru: "дайте этому пользователю право записи в его папку или выберите другой файл \
             через --config PATH",
    }
    fix_no_token() {
        en: "run once with --force-token TOKEN, or set OLLAMA_PROXY_TOKEN",
        ru: "запустите один раз с --force-token TOKEN или задайте OLLAMA_PROXY_TOKEN",
    }
    fix_ca_file() {
        en: "give --ca-file (or SSL_CERT_FILE) a readable PEM file with the CA certificate \
             of the hub or of an https Ollama, or leave it out to trust the public CAs",
        ru: "укажите в --ca-file (или SSL_CERT_FILE) читаемый PEM-файл с сертификатом CA \
             хаба или https-Ollama либо не указывайте его, чтобы доверять публичным CA",
    }
    fix_start_ollama() {
        en: "start Ollama (ollama serve), or set its address with --ollama-host/--ollama-port",
        ru: "запустите Ollama (ollama serve) или укажите её адрес через \
             --ollama-host/--ollama-port",
    }
    fix_start_ollama_tls() {
        en: "start Ollama (ollama serve), or set its address with \
             --ollama-host/--ollama-port; if its https certificate is not trusted, give its \
             CA certificate with --ca-file",
        ru: "запустите Ollama (ollama serve) или укажите её адрес через \
             --ollama-host/--ollama-port; если её https-сертификату нет доверия, укажите \
             сертификат её CA через --ca-file",
    }
    /// The fixes of one backend of `ollama_hosts`: `--ollama-host` would
    /// not help there.
    fix_start_backend() {
        en: "start Ollama there (ollama serve), or correct its address in ollama_hosts",
        ru: "запустите там Ollama (ollama serve) или исправьте её адрес в ollama_hosts",
    }
    fix_start_backend_tls() {
        en: "start Ollama there (ollama serve), or correct its address in ollama_hosts; \
             if its https certificate is not trusted, give its CA certificate with --ca-file",
        ru: "запустите там Ollama (ollama serve) или исправьте её адрес в ollama_hosts; \
             если её https-сертификату нет доверия, укажите сертификат её CA через --ca-file",
    }
    fix_pull_model_on(model, url) {
        en: "ollama pull {model} on that box (from here: OLLAMA_HOST={url} ollama pull {model}), \
             or choose a model every backend has with --force-model NAME",
        ru: "ollama pull {model} на той машине (отсюда: OLLAMA_HOST={url} ollama pull {model}) \
             или выберите модель, которая есть на всех серверах, через --force-model NAME",
    }
    fix_model_first() {
        en: "install the model there first",
        ru: "сначала установите там модель",
    }
    fix_one_token() {
        en: "check Ollama's log there; a model that loads slowly needs a larger load_timeout_secs",
        ru: "посмотрите журнал Ollama там; модели, которая долго загружается, нужен \
             больший load_timeout_secs",
    }
    fix_ollama_first() {
        en: "make Ollama answer first",
        ru: "сначала добейтесь ответа от Ollama",
    }
    fix_start_openai() {
        en: "start the server there (llama-server, vLLM, LM Studio...), or correct its address \
             in ollama_hosts; a key it wants goes in the entry's api_key_file",
        ru: "запустите там сервер (llama-server, vLLM, LM Studio...) или исправьте его адрес \
             в ollama_hosts; нужный ему ключ указывается в api_key_file записи",
    }
    fix_openai_key_refused() {
        en: "the server refuses this client's key: put the key it expects as the first line \
             of the file the entry's api_key_file names (or add api_key_file if it has none)",
        ru: "сервер не принимает ключ клиента: запишите нужный ему ключ первой строкой в файл, \
             который указан в api_key_file записи (или добавьте api_key_file, если его нет)",
    }
    fix_openai_model(model) {
        en: "load {model} on that server, or write in the entry's \"model\" a name its \
             GET /v1/models lists (above)",
        ru: "загрузите {model} на том сервере или впишите в \"model\" записи имя из его \
             GET /v1/models (выше)",
    }
    fix_api_key_file() {
        en: "make the entry's api_key_file a readable file whose first line is the key, \
             or fix the CA file (--ca-file, SSL_CERT_FILE) the message names",
        ru: "укажите в api_key_file записи читаемый файл, первая строка которого — ключ, \
             или исправьте файл CA (--ca-file, SSL_CERT_FILE), названный в сообщении",
    }
    fix_pull_model(model) {
        en: "ollama pull {model}, or choose an installed one with --force-model NAME",
        ru: "ollama pull {model} или выберите установленную модель через --force-model NAME",
    }
    fix_check_ollama_log() {
        en: "check Ollama's log",
        ru: "посмотрите журнал Ollama",
    }
    fix_token_first() {
        en: "set the token first",
        ru: "сначала задайте токен",
    }
    fix_get_token() {
        en: "get a valid token from the marketplace",
        ru: "получите действующий токен на маркетплейсе",
    }
    fix_tls_see_above() {
        en: "see above; check this box's clock too",
        ru: "см. выше; проверьте также часы этой машины",
    }
    fix_network() {
        en: "check the network and firewall (outbound TCP to the hub), or --server/--port",
        ru: "проверьте сеть и файрвол (исходящий TCP к хабу) или --server/--port",
    }

    // ------------------------------------------------------ test mode

    test_mode_intro() {
        en: "Test mode: type a prompt and press Enter; 'exit' or Ctrl+D to quit.",
        ru: "Тестовый режим: введите запрос и нажмите Enter; 'exit' или Ctrl+D — выход.",
    }
    /// The summary after an answer without a speed (a failed one, or one
    /// whose figures Ollama did not give).
    test_mode_summary(seconds, pieces) {
        en: "[{seconds} s, {pieces} {pieces|piece|pieces}]",
        ru: "[{seconds} с, {pieces} {pieces|часть|части|частей}]",
    }
    /// The summary after an answer; `speed` is in tokens per second.
    test_mode_summary_speed(seconds, pieces, speed) {
        en: "[{seconds} s, {pieces} {pieces|piece|pieces}, {speed} tokens/s]",
        ru: "[{seconds} с, {pieces} {pieces|часть|части|частей}, {speed} токенов/с]",
    }
    /// A prompt that failed, before its summary.
    test_mode_error(error) {
        en: "Error: {error}",
        ru: "Ошибка: {error}",
    }
}
