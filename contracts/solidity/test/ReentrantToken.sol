// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice A hostile ERC-20 for adversarial tests. On every transfer between two accounts it
/// calls a configured target with configured calldata (for example back into the bridge) and
/// records whether that call succeeded. It can also refuse transfers to chosen recipients.
contract ReentrantToken is ERC20 {
    address public hookTarget;
    bytes public hookData;
    uint256 public hookCalls;
    bool public lastHookSucceeded;
    bytes public lastHookReturn;
    mapping(address => bool) public refuseTransfersTo;
    bool private transient inHook;

    constructor() ERC20("Reentrant Token", "REENTER") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setHook(address target, bytes calldata data) external {
        hookTarget = target;
        hookData = data;
    }

    function setRefuseTransfersTo(address recipient, bool refuse) external {
        refuseTransfersTo[recipient] = refuse;
    }

    function _update(address from, address to, uint256 value) internal override {
        require(!refuseTransfersTo[to], "recipient refused");
        super._update(from, to, value);
        if (from != address(0) && to != address(0) && hookTarget != address(0) && !inHook) {
            inHook = true;
            (bool ok, bytes memory ret) = hookTarget.call(hookData);
            inHook = false;
            hookCalls += 1;
            lastHookSucceeded = ok;
            lastHookReturn = ret;
        }
    }
}
