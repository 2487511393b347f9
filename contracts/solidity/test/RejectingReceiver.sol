// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title RejectingReceiver
/// @notice A contract that refuses ether until told otherwise, and can claim what the bridge
/// owes it. Used to test that a failing recipient cannot block the bridge.
contract RejectingReceiver {
    bool public accept;

    function setAccept(bool accept_) external {
        accept = accept_;
    }

    function call(address target, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    receive() external payable {
        require(accept, "rejecting ether");
    }
}
