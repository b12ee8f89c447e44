"""booth shopify check / booth link JOB PRODUCT_ID"""

from __future__ import annotations

import sys

from daemon.cli import load_or_report
from daemon.logging import register_secret
from integrations.shopify import queries as Q
from integrations.shopify.auth import token_source
from integrations.shopify.client import AdminClient
from integrations.shopify.errors import PublishError

REQUIRED_SCOPES = ("read_products", "write_products", "read_files", "write_files")
# Keys a publish writes after the product is known: linking to a product starts them over.
AFTER_PRODUCT = ("product_title", "variant_id", "attach_pending", "attached", "replaced", "variant_media", "reordered")


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


def _client(config) -> AdminClient:
    import httpx
    http = httpx.Client(timeout=config.shopify.timeout)
    auth = token_source(config.shopify, http=http, on_secret=register_secret)
    return AdminClient(config.shopify, auth, http=http)


def check_command(args) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    shop = config.shopify
    if not (shop.shop or shop.admin_url):
        print("shopify.shop is not set", file=sys.stderr)
        return 2
    problems = 0
    try:
        client = _client(config)
        print(f"endpoint:    {client.endpoint}{'' if shop.enabled else '  (shopify.enabled is false: dry run)'}")
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
        query = f'sku:"{args.sku}"' if args.sku else ""
        found = client.execute(Q.VARIANTS_BY_SEARCH, {"query": query, "first": 1})["productVariants"]["nodes"]
        what = (f"{found[0]['product']['title']} (sku {found[0].get('sku')})" if found else "no variant found")
        if args.sku and not found:
            problems += 1
        print(f"lookup:      {'ok, ' if found or not args.sku else ''}{what}")
        client.close()
    except PublishError as exc:
        print(f"shopify: {exc}", file=sys.stderr)
        return 1
    return 1 if problems else 0


def product_gid(value: str) -> str:
    value = value.strip()
    if value.isdigit():
        return f"gid://shopify/Product/{value}"
    if value.startswith("gid://shopify/Product/") and value.rsplit("/", 1)[-1].isdigit():
        return value
    raise ValueError(f"{value!r} is not a product id (a number or gid://shopify/Product/<number>)")


def link_command(args) -> int:
    from daemon.journal import Journal

    config = load_or_report(args.config)
    if config is None:
        return 2
    try:
        product_id = product_gid(args.product)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    journal = Journal(config.state_dir / "journal.sqlite3")
    try:
        if journal.get(args.job) is None:
            print(f"no job {args.job} in {journal.path}", file=sys.stderr)
            return 2
        title = ""
        if config.shopify.enabled and not args.no_verify:
            try:
                client = _client(config)
                product = client.execute(Q.PRODUCT_MEDIA, {"id": product_id})["product"]
                client.close()
            except PublishError as exc:
                print(f"cannot check the product on Shopify: {exc} (use --no-verify to link anyway)", file=sys.stderr)
                return 1
            if product is None:
                print(f"no product {product_id} on Shopify", file=sys.stderr)
                return 2
            title = product["title"]
        ids = journal.remote_ids(args.job)
        for key in AFTER_PRODUCT:
            if ids.get(key):
                ids.put(key, "")  # an empty value reads as "not done yet"
        if title:
            ids.put("product_title", title)
        ids.put("product_id", product_id)
        journal.requeue(args.job, stage="publish")
    finally:
        journal.close()
    print(f"job {args.job} -> {product_id}{f' ({title})' if title else ''}; queued for publishing")
    return 0
