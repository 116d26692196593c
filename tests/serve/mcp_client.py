"""The official `mcp` Python client against `lectern mcp` on stdio, or `lectern serve`'s `/mcp`.

Run by tests/it/serve.rs as `stdio LECTERN DATA_DIR MODELS_DIR ...` or `http URL TOKEN_FILE ...`,
then the collection's name, a question whose answer is on a known page of a known document,
the document and that page. Every check is an assertion; the last line printed is a JSON
summary.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

mode = sys.argv[1]
if mode == "stdio":
    lectern, data_dir, models_dir = sys.argv[2:5]
else:
    url, token_file = sys.argv[2:4]
collection, question, document, page = sys.argv[-4:]
page = int(page)


def structured(result):
    assert not result.is_error, result
    assert result.structured_content is not None, result
    # The same result as text, for clients that read only content.
    assert json.loads(result.content[0].text) == result.structured_content, result
    return result.structured_content


def transport():
    if mode == "stdio":
        server = StdioServerParameters(
            command=lectern,
            args=["--data-dir", data_dir, "mcp"],
            env={"LECTERN_MODELS_DIR": models_dir},
        )
        return stdio_client(server)
    token = open(token_file).read().strip()
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    return streamable_http_client(f"{url}/mcp", http_client=http)


async def main():
    async with transport() as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            await session.initialize()
            assert session.server_info.name == "lectern", session.server_info
            tools = {t.name: t for t in (await session.list_tools()).tools}
            assert set(tools) == {"list_collections", "search", "ask"}, tools
            assert "question" in tools["ask"].input_schema["properties"], tools["ask"]

            listed = structured(await session.call_tool("list_collections", {}))
            names = [c["name"] for c in listed["collections"]]
            assert collection in names, listed

            found = structured(
                await session.call_tool("search", {"collection": collection, "query": question, "k": 5})
            )
            passages = found["passages"]
            assert len(passages) == 5 and passages[0]["document"] == document, passages
            assert any(p["page"] <= page <= p["last_page"] for p in passages), passages

            answer = structured(
                await session.call_tool("ask", {"collection": collection, "question": question})
            )
            assert answer["answer"].strip(), answer
            assert answer["sources"] and answer["sources"][0]["document"] == document, answer
            for citation in answer["citations"]:
                assert f"[{citation['n']}]" in answer["answer"], answer

            # A failure is a tool error naming Lectern's code, not a broken session.
            missing = await session.call_tool("search", {"collection": "no-such", "query": "x"})
            assert missing.is_error and "not_found" in missing.content[0].text, missing
            still = structured(await session.call_tool("list_collections", {}))
            assert still == listed
            print(json.dumps({"chat_id": answer["chat_id"], "tools": sorted(tools)}))


asyncio.run(main())
