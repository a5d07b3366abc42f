//! The catalogue's texts for errors that several parts of the program show
//! (the hub's, Ollama's, an address's), and for buyers; see `text` for how
//! entries work.

use super::catalogue;

catalogue! {
    // ------------------------------------------ Ollama, for the owner

    // Ollama's small requests for the owner's tools (`ollama::api`).
    /// `seconds`: the request's time limit (`0.3`, `10`).
    ollama_api_no_answer(seconds) {
        en: "no answer within {seconds} s",
        ru: "нет ответа за {seconds} с",
    }
    ollama_api_status(status, path) {
        en: "HTTP {status} for {path}",
        ru: "HTTP {status} в ответ на {path}",
    }
    ollama_api_not_json(path) {
        en: "{path} did not answer JSON",
        ru: "{path} ответил не в формате JSON",
    }
    ollama_api_no_model_list() {
        en: "no model list",
        ru: "в ответе нет списка моделей",
    }

    ollama_unreachable(url, error) {
        en: "Ollama is not reachable at {url} ({error})",
        ru: "Ollama недоступна по адресу {url} ({error})",
    }
    ollama_unreachable_untrusted(url, error) {
        en: "Ollama is not reachable at {url} ({error}): its TLS certificate's issuer is \
             not trusted (an https Ollama is checked against the certificates of --ca-file \
             or SSL_CERT_FILE when one is given, else against the bundled Mozilla roots)",
        ru: "Ollama недоступна по адресу {url} ({error}): издателю её TLS-сертификата нет \
             доверия (сертификат https-Ollama проверяется по сертификатам из --ca-file или \
             SSL_CERT_FILE, если они заданы, иначе по встроенным корневым сертификатам Mozilla)",
    }
    ollama_model_missing(model) {
        en: "model '{model}' is not installed on this box (the owner can install it \
             with: ollama pull {model})",
        ru: "модель '{model}' не установлена на этой машине (владелец может установить её \
             командой: ollama pull {model})",
    }
    ollama_http(status, message) {
        en: "Ollama answered HTTP {status}: {message}",
        ru: "Ollama ответила HTTP {status}: {message}",
    }
    ollama_http_without_text(status) {
        en: "Ollama answered HTTP {status}: no error text",
        ru: "Ollama ответила HTTP {status} без текста ошибки",
    }
    ollama_failed(message) {
        en: "Ollama failed: {message}",
        ru: "сбой Ollama: {message}",
    }
    ollama_bad_line() {
        en: "Ollama sent a line that is not valid JSON",
        ru: "Ollama прислала строку, которая не является корректным JSON",
    }
    ollama_line_too_long(limit) {
        en: "Ollama sent a line longer than {limit} {limit|byte|bytes}",
        ru: "Ollama прислала строку длиннее {limit} {limit|байта|байт|байт}",
    }
    ollama_truncated() {
        en: "Ollama's answer ended before it was complete",
        ru: "ответ Ollama оборвался, не завершившись",
    }
    ollama_no_first_line(seconds) {
        en: "Ollama sent nothing for {seconds} s (is the model still loading?)",
        ru: "Ollama ничего не присылала {seconds} с (модель ещё загружается?)",
    }
    ollama_stalled(seconds) {
        en: "Ollama stopped answering for {seconds} s",
        ru: "Ollama не отвечала {seconds} с",
    }
    ollama_too_long(seconds) {
        en: "the answer was cut after {seconds} s (the max_answer_secs limit)",
        ru: "ответ прерван через {seconds} с (ограничение max_answer_secs)",
    }

    // ------------------------------------------------------ buyers
    // What a buyer reads after `Error: ` (which stays English, for
    // machines), in the `buyer_language`.

    shutting_down() {
        en: "owner client is shutting down",
        ru: "клиент владельца завершает работу",
    }
    buyer_busy() {
        en: "busy",
        ru: "сервер занят",
    }
    buyer_owner_paused() {
        en: "owner paused",
        ru: "владелец приостановил продажу",
    }
    buyer_prompt_too_large(size, limit) {
        en: "prompt too large ({size} {size|byte|bytes}, this box accepts at most {limit})",
        ru: "запрос слишком большой ({size} {size|байт|байта|байт}, эта машина принимает \
             не больше {limit})",
    }
    buyer_prompt_too_long(chars, limit) {
        en: "prompt too long ({chars} {chars|character|characters}, this box accepts at most \
             {limit})",
        ru: "запрос слишком длинный ({chars} {chars|символ|символа|символов}, эта машина \
             принимает не больше {limit})",
    }
    buyer_no_text_content() {
        en: "the request has no text content",
        ru: "в запросе нет текста",
    }
    buyer_ollama_unreachable() {
        en: "the owner's model server is not reachable",
        ru: "сервер моделей владельца недоступен",
    }
    buyer_model_missing(model) {
        en: "model '{model}' is not installed on this box",
        ru: "модель '{model}' не установлена на этой машине",
    }
    buyer_ollama_http(status) {
        en: "the owner's model server failed (HTTP {status})",
        ru: "сбой сервера моделей владельца (HTTP {status})",
    }
    buyer_model_failed() {
        en: "the model failed while answering",
        ru: "сбой модели во время ответа",
    }
    buyer_unrelayable_answer() {
        en: "the owner's model server sent an answer that cannot be relayed",
        ru: "сервер моделей владельца прислал ответ, который нельзя передать",
    }
    buyer_truncated() {
        en: "the answer ended before it was complete",
        ru: "ответ оборвался, не завершившись",
    }
    buyer_no_first_line(seconds) {
        en: "the model did not start answering within {seconds} s",
        ru: "модель не начала отвечать за {seconds} с",
    }
    buyer_stalled(seconds) {
        en: "the model stopped answering for {seconds} s",
        ru: "модель не отвечала {seconds} с",
    }
    buyer_too_long(seconds) {
        en: "answer cut after {seconds} s (this box's limit)",
        ru: "ответ прерван через {seconds} с (ограничение этой машины)",
    }

    // ------------------------------------------------------ the hub

    hub_cannot_resolve(error) {
        en: "cannot resolve the hub's host name: {error}",
        ru: "не удалось найти адрес хаба по имени: {error}",
    }
    hub_cannot_connect(error) {
        en: "cannot connect: {error}",
        ru: "не удалось подключиться: {error}",
    }
    hub_through_proxy(error) {
        en: "through the proxy: {error}",
        ru: "через прокси: {error}",
    }
    hub_handshake_timeout(seconds) {
        en: "handshake did not finish within {seconds} s",
        ru: "рукопожатие не завершилось за {seconds} с",
    }
    hub_bad_host_name(host) {
        en: "TLS: bad host name {host}",
        ru: "TLS: недопустимое имя хоста {host}",
    }
    hub_token_rejected(status) {
        en: "the hub rejected the token (HTTP {status}); set the right one with \
             --force-token TOKEN or the OLLAMA_PROXY_TOKEN environment variable",
        ru: "хаб отклонил токен (HTTP {status}); задайте верный через --force-token TOKEN \
             или переменную окружения OLLAMA_PROXY_TOKEN",
    }
    hub_not_upgraded(status) {
        en: "the hub answered HTTP {status} instead of a WebSocket upgrade",
        ru: "хаб ответил HTTP {status} вместо перехода на WebSocket",
    }
    hub_handshake_failed(failure) {
        en: "handshake failed: {failure}",
        ru: "рукопожатие не удалось: {failure}",
    }
    hub_closed_during_handshake() {
        en: "the hub closed the connection during the handshake",
        ru: "хаб закрыл соединение во время рукопожатия",
    }
    hub_bad_request_uri() {
        en: "the hub URL is not a valid request URI",
        ru: "адрес хаба не годится в качестве URI запроса",
    }

    // ---------------------------------------------- the hub's proxy

    proxy_no_address() {
        en: "the proxy's host has no address",
        ru: "у хоста прокси нет адреса",
    }
    proxy_refused_tunnel(proxy, line) {
        en: "the proxy {proxy} refused the tunnel: {line}",
        ru: "прокси {proxy} отказал в туннеле: {line}",
    }
    proxy_answer_too_long() {
        en: "the proxy's answer is too long",
        ru: "ответ прокси слишком длинный",
    }
    proxy_closed() {
        en: "the proxy closed the connection",
        ru: "прокси закрыл соединение",
    }

    // ------------------------------------------------------------ TLS

    tls_unknown_issuer() {
        en: "TLS: the hub's certificate is signed by an unknown authority; if your hub \
             uses a private CA, pass its certificate with --ca-file or SSL_CERT_FILE",
        ru: "TLS: сертификат хаба подписан неизвестным центром сертификации; если хаб \
             использует частный CA, укажите его сертификат через --ca-file или SSL_CERT_FILE",
    }
    tls_wrong_host_name() {
        en: "TLS: the hub's certificate is not valid for this host name",
        ru: "TLS: сертификат хаба не подходит для этого имени хоста",
    }
    tls_expired() {
        en: "TLS: the hub's certificate has expired (or this box's clock is wrong)",
        ru: "TLS: срок действия сертификата хаба истёк (или часы этой машины идут неверно)",
    }
    tls_other(error) {
        en: "TLS: {error}",
        ru: "TLS: {error}",
    }
    ca_cannot_read(path, error) {
        en: "cannot read CA file {path}: {error}",
        ru: "не удалось прочитать файл CA {path}: {error}",
    }
    ca_bad_pem(path, error) {
        en: "CA file {path} is not valid PEM: {error}",
        ru: "файл CA {path} не является корректным PEM: {error}",
    }
    ca_bad_certificate(path, error) {
        en: "CA file {path} holds a bad certificate: {error}",
        ru: "в файле CA {path} негодный сертификат: {error}",
    }
    ca_no_certificate(path) {
        en: "CA file {path} holds no certificate",
        ru: "в файле CA {path} нет ни одного сертификата",
    }
    tls_setup_failed(error) {
        en: "TLS setup failed: {error}",
        ru: "не удалось настроить TLS: {error}",
    }
}
