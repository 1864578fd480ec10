"""The nginx configuration of the KairoFlow pod: nginx.conf (global) and default.conf (the site)."""

from __future__ import annotations

from stacks.kairoflow.settings import NginxSettings

DOCUMENT_ROOT = "/var/www/html/www/"
PHP_UPSTREAM = "127.0.0.1:9000"


def nginx_conf(settings: NginxSettings) -> str:
    # The root filesystem is read-only and nginx runs unprivileged: pid and temp files go to /tmp.
    timeout = f"{settings.timeout_seconds}s"
    return f"""worker_processes {settings.worker_processes};
pid /tmp/nginx.pid;
error_log /dev/stderr warn;

events {{
    worker_connections {settings.worker_connections};
}}

http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    tcp_nopush on;
    server_tokens off;

    client_max_body_size {settings.client_max_body_size};
    client_body_timeout {timeout};
    client_header_timeout {timeout};
    send_timeout {timeout};
    keepalive_timeout 65s;

    client_body_temp_path /tmp/client_body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;

    include /etc/nginx/conf.d/*.conf;
}}
"""


def default_conf(settings: NginxSettings) -> str:
    timeout = f"{settings.timeout_seconds}s"
    return f"""upstream php {{
    server {PHP_UPSTREAM};
}}

server {{
    listen 80;
    server_name _;
    root {DOCUMENT_ROOT};
    index index.php;

    location / {{
        try_files $uri /index.php$is_args$args;
    }}

    location ~ \\.php$ {{
        try_files $uri =404;
        fastcgi_pass php;
        fastcgi_index index.php;
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_param DOCUMENT_ROOT $document_root;
        fastcgi_read_timeout {timeout};
        fastcgi_send_timeout {timeout};
        fastcgi_connect_timeout 60s;
        fastcgi_buffers 16 16k;
        fastcgi_buffer_size 32k;
    }}

    # Static files are served by nginx and cached by browsers; PHP never sees them.
    location ~* \\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|woff2?|ttf|eot|mp3|wav|ogg|pdf)$ {{
        try_files $uri =404;
        expires 30d;
        add_header Cache-Control "public";
        access_log off;
    }}

    location ~ /\\. {{
        deny all;
    }}
}}
"""
