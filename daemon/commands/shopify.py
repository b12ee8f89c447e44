"""booth shopify check / booth link JOB PRODUCT_ID"""

from __future__ import annotations

import sys
from pathlib import Path

from daemon.cli import config_path, load_or_report

REQUIRED_SCOPES = ("read_products", "write_products", "read_files", "write_files")
CREDENTIALS = "/etc/booth/credentials"  # what the unit's LoadCredential= reads (systemd/booth.service)
QUICK_CONNECT = 3.0  # seconds: the commands say "unreachable" at once instead of retrying for half a minute


def register(sub) -> None:
    p = sub.add_parser("shopify", help="the Shopify connection")
    ssub = p.add_subparsers(dest="shopify_command", metavar="ACTION", required=True)
    check = ssub.add_parser("check", help="credentials, API version, scopes and a product lookup")
    check.add_argument("--config", metavar="FILE")
    check.add_argument("--sku", help="also look this SKU up (default: any one variant)")
    check.set_defaults(func=check_command)

    link = sub.add_parser("link", help="settle a job in needs_review: publish it to this product")
    link.add_argument("job", metavar="JOB", help="job id (see 'booth status')")
    link.add_argument("product", metavar="PRODUCT_ID", help="numeric id or gid://shopify/Product/...")
    link.add_argument("--config", metavar="FILE")
    link.add_argument("--no-verify", action="store_true", help="do not ask Shopify whether the product exists")
    link.set_defaults(func=link_command)


def _fail(message: object, code: int) -> int:
    from integrations.secrets import scrub
    print(scrub(message), file=sys.stderr)
    return code


def _client(config):
    """A client for one command: a short connect timeout and no retries, so an
    unreachable shop is reported within seconds."""
    import httpx

    from daemon.logging import register_secret
    from integrations.shopify.auth import token_source
    from integrations.shopify.client import AdminClient, request_timeout

    shop = config.shopify.model_copy(update={
        "max_retries": 0, "connect_timeout": min(config.shopify.connect_timeout, QUICK_CONNECT)})
    http = httpx.Client(timeout=request_timeout(shop))
    try:
        auth = token_source(shop, http=http, on_secret=register_secret)
    except BaseException:
        http.close()
        raise
    return AdminClient(shop, auth, http=http)


def publishing_off(config, path) -> str:
    """What turns publishing on, for a config where it is off."""
    shop = config.shopify
    why = "shopify.enabled is false" if not shop.enabled else "shopify.shop is not set"
    credential = f"{CREDENTIALS}/{shop.token_credential}"
    return (f"publishing to Shopify is off ({why} in {path}); nothing to check.\n"
            "To turn it on, set in the config file:\n"
            "  shopify:\n"
            "    enabled: true\n"
            "    shop: my-store              # or my-store.myshopify.com\n"
            f"and give booth an access token: the file {credential} (the unit loads it with\n"
            f"LoadCredential={shop.token_credential}:{credential}), or ${shop.token_env} in the\n"
            "environment, or shopify.client_id with a client secret. See docs/shopify.md.")


def check_command(args) -> int:
    from integrations.shopify import queries as Q
    from integrations.shopify.errors import PublishError

    config = load_or_report(args.config)
    if config is None:
        return 2
    shop = config.shopify
    if not shop.configured:
        print(publishing_off(config, config_path(args.config)))
        return 2
    problems = 0
    try:
        client = _client(config)
        try:
            print(f"endpoint:    {client.endpoint}")
            data = client.execute(Q.CHECK)
            print(f"credentials: ok ({data['shop']['name']}, {data['shop']['myshopifyDomain']})")
            served = client.served_version or shop.api_version
            if served != shop.api_version:
                problems += 1
                print(f"api version: {shop.api_version} is not supported; Shopify served {served}")
            else:
                print(f"api version: {served}")
            granted = {s["handle"] for s in data["currentAppInstallation"]["accessScopes"]}
            missing = [s for s in REQUIRED_SCOPES if s not in granted]
            problems += bool(missing)
            print(f"scopes:      {'missing ' + ', '.join(missing) if missing else 'ok'} ({', '.join(sorted(granted))})")
            query = Q.search_term("sku", args.sku) if args.sku else ""
            found = client.execute(Q.VARIANTS_BY_SEARCH, {"query": query, "first": 1})["productVariants"]["nodes"]
            what = (f"{found[0]['product']['title']} (sku {found[0].get('sku')})" if found else "no variant found")
            if args.sku and not found:
                problems += 1
            print(f"lookup:      {'ok, ' if found or not args.sku else ''}{what}")
        finally:
            client.close()
    except PublishError as exc:
        return _fail(f"shopify: {exc}", 1)
    return 1 if problems else 0


def product_gid(value: str) -> str:
    value = value.strip()
    if value.isdigit():
        return f"gid://shopify/Product/{value}"
    if value.startswith("gid://shopify/Product/") and value.rsplit("/", 1)[-1].isdigit():
        return value
    raise ValueError(f"{value!r} is not a product id (a number or gid://shopify/Product/<number>)")


def _unlinkable(job) -> str | None:
    """Why ``job`` cannot be linked to a product, or None when it can."""
    from daemon.journal import NEEDS_REVIEW, ReviewKind

    if job.state != NEEDS_REVIEW:
        return (f"job {job.id} is {job.state}, not needs_review: only a job waiting for its product "
                "can be linked to one")
    if (job.review_kind or ReviewKind.PRODUCT) != ReviewKind.PRODUCT:
        return (f"job {job.id} waits for a person to look at its cut-out, not for a product: "
                f"'booth approve {job.id}' or 'booth redo {job.id}'")
    if not job.output or not Path(job.output).is_file():
        return (f"job {job.id} has no finished image on disk ({job.output or 'none recorded'}): "
                f"'booth reprocess' its photo first")
    return None


def link_command(args) -> int:
    from daemon.journal import NEEDS_REVIEW, Journal
    from integrations.shopify import queries as Q
    from integrations.shopify.errors import PublishError
    from integrations.shopify.progress import Progress

    config = load_or_report(args.config)
    if config is None:
        return 2
    try:
        product_id = product_gid(args.product)
    except ValueError as exc:
        return _fail(exc, 2)
    if not config.shopify.configured:
        return _fail("publishing to Shopify is off (shopify.enabled is false): nothing would publish the job; "
                     "'booth shopify check' says how to turn it on", 2)
    journal = Journal(config.state_dir / "journal.sqlite3")
    try:
        job = journal.get(args.job)
        if job is None:
            return _fail(f"no job {args.job} in {journal.path}", 2)
        if why := _unlinkable(job):
            return _fail(why, 2)
        title = ""
        if not args.no_verify:
            try:
                client = _client(config)
                try:
                    product = client.execute(Q.PRODUCT_MEDIA, {"id": product_id})["product"]
                finally:
                    client.close()
            except PublishError as exc:
                return _fail(f"cannot check the product on Shopify: {exc} (use --no-verify to link anyway)", 1)
            if product is None:
                return _fail(f"no product {product_id} on Shopify", 2)
            title = product["title"]
        progress = Progress.from_dict(journal.remote(job.id)).reset_after_product().with_product(product_id, title or None)
        journal.set_remote(job.id, progress.to_dict())
        if not journal.requeue(job.id, stage="publish", only_from=[NEEDS_REVIEW], actor="booth link",
                               note=f"linked to {product_id}"):
            return _fail(f"job {job.id} changed state meanwhile; see 'booth job {job.id}'", 2)
    finally:
        journal.close()
    print(f"job {args.job} -> {product_id}{f' ({title})' if title else ''}; queued for publishing")
    return 0
