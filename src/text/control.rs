//! The catalogue's texts for the owner's hold on a running client:
//! `--status`, `--pause`, `--resume`, their errors, and the
//! control socket's messages at start; see `text` for how entries work.

use super::catalogue;

catalogue! {
    // ------------------------------------------------------ usage errors

    /// A `--pause` value that is not a span (not a secret: repeated).
    usage_bad_pause(value) {
        en: "--pause takes a duration such as 90s, 30m, 2h or 1d, not '{value}'",
        ru: "--pause: нужна длительность, например 90s, 30m, 2h или 1d, а не '{value}'",
    }
    usage_json_needs_mode() {
        en: "--json can only be used with --stats or --status",
        ru: "--json можно использовать только вместе с --stats или --status",
    }

    // ------------------------------------- the running client, at start

    socket_path_too_long(path) {
        en: "the control socket's path {path} is longer than the system allows (107 bytes); \
             put the config file in a shorter directory (--config PATH)",
        ru: "путь сокета управления {path} длиннее, чем допускает система (107 байт); \
             поместите файл настроек в каталог с путём покороче (--config PATH)",
    }
    /// `pid` is 0 when the lock file did not say.
    already_running(pid, config) {
        en: "another ollama-proxy-client (pid {pid}) is already running with {config}; \
             stop it first, or give this one its own config file (--config PATH)",
        ru: "другой ollama-proxy-client (pid {pid}) уже работает с {config}; \
             сначала остановите его или дайте этому свой файл настроек (--config PATH)",
    }

    // ----------------------------------- --status, --pause, --resume: errors

    no_client(config) {
        en: "no client is running on this config ({config})",
        ru: "клиент с этими настройками не запущен ({config})",
    }
    not_answering(path) {
        en: "a client is running on this config, but its control socket {path} does not \
             answer; try again, or see its log",
        ru: "клиент с этими настройками работает, но его сокет управления {path} не \
             отвечает; попробуйте ещё раз или посмотрите его журнал",
    }
    no_answer_in_time(path, secs) {
        en: "the running client did not answer on {path} within {secs} s; the request may \
             still be carried out: see --status",
        ru: "работающий клиент не ответил через {path} за {secs} с; запрос ещё может быть \
             выполнен: проверьте --status",
    }
    cannot_reach(path, error) {
        en: "cannot reach the client's control socket {path}: {error}",
        ru: "не удалось связаться с сокетом управления клиента {path}: {error}",
    }
    not_owner() {
        en: "the client on this config runs as another user: run this command as that user \
             (sudo -u USER ollama-proxy-client ...)",
        ru: "клиент с этими настройками работает от другого пользователя: выполните команду \
             от его имени (sudo -u USER ollama-proxy-client ...)",
    }
    refused(error) {
        en: "the running client refused the request: {error}",
        ru: "работающий клиент отклонил запрос: {error}",
    }
    bad_answer() {
        en: "the running client's answer cannot be read",
        ru: "не удалось разобрать ответ работающего клиента",
    }

    // ------------------------------------------ --pause, --resume: results

    /// `time` is a local time, or `--resume` for a pause without an end (so
    /// in `offline_paused_until` and `status_paused_until` too).
    paused_until(time) {
        en: "paused until {time} (running answers finish first, then the hub connection closes)",
        ru: "пауза до {time} (начатые ответы завершатся, затем соединение с хабом закроется)",
    }
    pause_not_saved(error) {
        en: "the pause could not be saved ({error}): a restart of the client would end it",
        ru: "паузу не удалось сохранить ({error}): перезапуск клиента её отменит",
    }
    resumed() {
        en: "resumed: connecting to the hub",
        ru: "пауза снята: подключение к хабу",
    }
    /// `--resume` when there was no pause, and `--check` with none saved.
    not_paused() {
        en: "not paused",
        ru: "не на паузе",
    }
    resume_not_saved(error) {
        en: "the end of the pause could not be saved ({error}): a restart of the client \
             would pause it again",
        ru: "снятие паузы не удалось сохранить ({error}): после перезапуска клиент снова \
             встанет на паузу",
    }
    offline_paused_until(time) {
        en: "no client is running on this config; it will start paused until {time}",
        ru: "клиент с этими настройками не запущен; он запустится на паузе до {time}",
    }
    offline_resumed() {
        en: "no client is running on this config; the saved pause is removed, it will \
             start serving",
        ru: "клиент с этими настройками не запущен; сохранённая пауза снята, он \
             запустится в работу",
    }
    offline_not_paused() {
        en: "no client is running on this config, and no pause is saved",
        ru: "клиент с этими настройками не запущен, сохранённой паузы нет",
    }
    offline_cannot_save(error) {
        en: "no client is running on this config, and the pause cannot be saved for the \
             next start: {error}",
        ru: "клиент с этими настройками не запущен, а паузу не удалось сохранить до \
             следующего запуска: {error}",
    }

    // ---------------------------------------------------- --status: table

    status_label_version() {
        en: "Version",
        ru: "Версия",
    }
    status_label_uptime() {
        en: "Uptime",
        ru: "Работает",
    }
    status_label_model() {
        en: "Model",
        ru: "Модель",
    }
    status_label_serving() {
        en: "Serving",
        ru: "Продаёт",
    }
    status_label_hub() {
        en: "Hub",
        ru: "Хаб",
    }
    status_label_ollama() {
        en: "Ollama",
        ru: "Ollama",
    }
    status_label_today() {
        en: "Today",
        ru: "Сегодня",
    }
    status_label_paused() {
        en: "Paused",
        ru: "Пауза",
    }
    status_version(version, pid) {
        en: "{version} (pid {pid})",
        ru: "{version} (pid {pid})",
    }
    status_yes() {
        en: "yes",
        ru: "да",
    }
    status_no() {
        en: "no",
        ru: "нет",
    }
    span_days(days, hours) {
        en: "{days} d {hours} h",
        ru: "{days} д {hours} ч",
    }
    span_hours(hours, minutes) {
        en: "{hours} h {minutes} min",
        ru: "{hours} ч {minutes} мин",
    }
    span_minutes(minutes, seconds) {
        en: "{minutes} min {seconds} s",
        ru: "{minutes} мин {seconds} с",
    }
    span_seconds(seconds) {
        en: "{seconds} s",
        ru: "{seconds} с",
    }
    status_hub_connected(time) {
        en: "connected since {time}",
        ru: "на связи с {time}",
    }
    status_hub_reconnecting(seconds) {
        en: "reconnecting in {seconds} s",
        ru: "переподключение через {seconds} с",
    }
    status_hub_connecting() {
        en: "connecting",
        ru: "подключается",
    }
    status_hub_paused() {
        en: "disconnected: paused",
        ru: "отключён: пауза",
    }
    status_hub_waiting() {
        en: "disconnected: waiting for Ollama",
        ru: "отключён: ждёт Ollama",
    }
    status_ollama_up() {
        en: "up",
        ru: "работает",
    }
    status_ollama_unknown() {
        en: "not checked yet",
        ru: "ещё не проверено",
    }
    /// `error` is the client's own English account, shown as it is.
    status_ollama_down(time, error) {
        en: "down since {time}: {error}",
        ru: "не работает с {time}: {error}",
    }
    status_ollama_model_missing(time, model) {
        en: "has no model {model} since {time} (install it: ollama pull {model})",
        ru: "нет модели {model} с {time} (установите: ollama pull {model})",
    }
    /// An OpenAI-compatible backend whose `GET /v1/models` lacks it.
    status_openai_model_missing(time, model) {
        en: "has no model {model} since {time} (load it there, or name it as its GET /v1/models does)",
        ru: "нет модели {model} с {time} (загрузите её там или назовите так, как её называет GET /v1/models)",
    }
    /// A backend's line under the Ollama line (several backends): `state`
    /// is one of the Ollama line's states above.
    status_backend(state, running, max_parallel) {
        en: "{state}, {running} of {max_parallel} running",
        ru: "{state}, выполняется {running} из {max_parallel}",
    }
    status_requests(running, queued) {
        en: "{running} running, {queued} queued",
        ru: "выполняется: {running}, в очереди: {queued}",
    }
    status_today(answered, errors, tokens) {
        en: "{answered} answered, {errors} {errors|error|errors}, {tokens} {tokens|token|tokens}",
        ru: "ответов: {answered}, ошибок: {errors}, токенов: {tokens}",
    }
    status_paused_until(time) {
        en: "until {time}",
        ru: "до {time}",
    }

    status_label_hours() {
        en: "Selling hours",
        ru: "Часы продажи",
    }
    status_label_gpu() {
        en: "GPU guard",
        ru: "Защита GPU",
    }
    /// `windows` are the owner's `sell_hours` entries, as written.
    status_hours_selling_until(windows, time) {
        en: "{windows}: selling until {time}",
        ru: "{windows}: продаёт до {time}",
    }
    status_hours_away_until(windows, time) {
        en: "{windows}: not selling until {time}",
        ru: "{windows}: не продаёт до {time}",
    }
    status_hours_resumed_until(windows, time) {
        en: "{windows}: outside them, but selling until {time} (--resume)",
        ru: "{windows}: сейчас вне их, но продаёт до {time} (--resume)",
    }
    status_hours_always(windows) {
        en: "{windows}: selling at every hour",
        ru: "{windows}: продаёт в любое время",
    }
    status_hub_outside_hours() {
        en: "disconnected: outside the selling hours",
        ru: "отключён: вне часов продажи",
    }
    status_hub_gpu_guard() {
        en: "disconnected: the GPU guard stepped back",
        ru: "отключён: защита GPU увела машину",
    }
    /// One GPU as the guard read it; a figure not known is "?".
    status_gpu(id, temp, busy) {
        en: "GPU {id}: {temp} °C, {busy} % busy",
        ru: "GPU {id}: {temp} °C, загрузка {busy} %",
    }
    status_gpu_clear() {
        en: "nothing holds the box back",
        ru: "ничто не мешает продаже",
    }
    status_gpu_hot(gpu, temp, max) {
        en: "away: GPU {gpu} is at {temp} °C (over {max} °C)",
        ru: "машина ушла: GPU {gpu} нагрет до {temp} °C (больше {max} °C)",
    }
    /// Another compute program; `name` is its name as the driver gives it.
    status_gpu_other_program(name, pid) {
        en: "away: another program uses the GPU: {name} (pid {pid})",
        ru: "машина ушла: GPU занят другой программой: {name} (pid {pid})",
    }
    status_gpu_busy_while_idle(gpu, busy) {
        en: "away: GPU {gpu} is {busy} % busy while the client serves nothing",
        ru: "машина ушла: GPU {gpu} загружен на {busy} %, хотя клиент ничего не выполняет",
    }
    status_gpu_clear_for(seconds) {
        en: "conditions clear for {seconds} s",
        ru: "условия не выполняются уже {seconds} с",
    }
    /// `error` is the GPU tool's own words, or the client's in English.
    status_gpu_error(error) {
        en: "cannot read the GPUs: {error}",
        ru: "не удалось прочитать состояние GPU: {error}",
    }
    status_gpu_not_read() {
        en: "not read yet",
        ru: "ещё не прочитано",
    }

    // ----------------------------------------------------------- --check

    check_paused_until(time) {
        en: "paused until {time} (ollama-proxy-client --resume ends it)",
        ru: "на паузе до {time} (ollama-proxy-client --resume снимет её)",
    }
    check_pause_unreadable(error) {
        en: "the saved pause cannot be read: {error}; the client serves as if not paused",
        ru: "не удалось прочитать сохранённую паузу: {error}; клиент работает без паузы",
    }
    fix_pause_file(path) {
        en: "delete {path}, then pause again if you mean to",
        ru: "удалите {path} и, если нужно, снова поставьте паузу",
    }
}
